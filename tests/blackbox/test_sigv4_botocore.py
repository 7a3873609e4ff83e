"""sigv4-sign (src/sigv4) against botocore's SigV4Auth on EC2 Query requests.

Each case builds a DescribeTags or CreateTags POST, form-encoded, signs it
with build/tests/tools/sigv4-sign and with python3-botocore at the same
fixed time, and requires the same canonical request and Authorization.
The C tool builds the body with sigv4_form_add; the test checks that those
are exactly the bytes botocore signed.

Run from tests/: /usr/bin/python3 -m pytest -q blackbox/test_sigv4_botocore.py
CDGATE_BUILD is the absolute build directory (default: build/ of this
checkout).
"""

import datetime
import hashlib
import os
import subprocess
import types
import urllib.parse

import pytest

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BUILD = os.environ.get('CDGATE_BUILD', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'build'))
TOOL = os.path.join(BUILD, 'tests', 'tools', 'sigv4-sign')

FIXED = datetime.datetime(2024, 2, 29, 23, 59, 58)
AMZ_DATE = '20240229T235958Z'
ACCESS = 'AKIDEXAMPLE'
SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
# Shaped like an STS/IMDS session token: long, base64 with '/', '+', '='.
TOKEN = ('IQoJb3JpZ2luX2VjEOr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example/'
         'tokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/' * 8 + 'Zm9v==')
CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=utf-8'
VERSION = '2016-11-15'
INSTANCE = 'i-0123456789abcdef0'

ENDPOINTS = [
    pytest.param('https://ec2.us-east-1.amazonaws.com/',
                 'ec2.us-east-1.amazonaws.com', 'us-east-1', id='us-east-1'),
    pytest.param('https://ec2.cn-north-1.amazonaws.com.cn/',
                 'ec2.cn-north-1.amazonaws.com.cn', 'cn-north-1',
                 id='cn-north-1'),
    pytest.param('https://127.0.0.1:8443/', '127.0.0.1:8443', 'us-east-1',
                 id='loopback-8443'),
]

TOKENS = [pytest.param(None, id='long-term'),
          pytest.param(TOKEN, id='session-token')]

TRICKY = [
    'a b', 'x/y', 'a+b', 'k=v', 'a&b', '100%', '~tilde~', '%20', '+=&/%~',
    'R\u00f4le', '\u65e5\u672c', '\U0001f680 launch',
    '  padded  ', 'mix +/=&%~ R\u00f4le \u65e5\u672c \U0001f389',
]


def describe_tags(keys, max_results=100):
    params = [('Action', 'DescribeTags'), ('Version', VERSION),
              ('Filter.1.Name', 'resource-id'),
              ('Filter.1.Value.1', INSTANCE),
              ('Filter.2.Name', 'key')]
    params += [(f'Filter.2.Value.{i}', k) for i, k in enumerate(keys, 1)]
    params.append(('MaxResults', str(max_results)))
    return params


def create_tags(tags):
    params = [('Action', 'CreateTags'), ('Version', VERSION),
              ('ResourceId.1', INSTANCE)]
    for i, (k, v) in enumerate(tags, 1):
        params += [(f'Tag.{i}.Key', k), (f'Tag.{i}.Value', v)]
    return params


REQUESTS = [
    pytest.param(describe_tags(['cdgate:provisioned'], 5),
                 id='describe-plain'),
    pytest.param(describe_tags(TRICKY, 1000), id='describe-tricky-keys'),
    pytest.param(create_tags([('cdgate:provisioned', '2024-02-29T23:59:58Z'),
                              ('Name', 'web 1')]), id='create-plain'),
    pytest.param(create_tags([(t, t) for t in TRICKY]),
                 id='create-tricky-tags'),
    pytest.param(create_tags([(f'k{i}', 'v' * i) for i in range(50)] +
                             [('empty', '')]), id='create-51-tags'),
]


def form_body(params):
    """The body both sides sign: RFC 3986 encoding, space as %20."""
    def q(s):
        return urllib.parse.quote(s, safe='-_.~')
    return '&'.join(f'{q(k)}={q(v)}' for k, v in params).encode('ascii')


class _FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED

    @classmethod
    def now(cls, tz=None):
        if tz is None:
            return FIXED
        return FIXED.replace(tzinfo=datetime.timezone.utc).astimezone(tz)


@pytest.fixture
def fixed_clock(monkeypatch):
    """botocore.auth reads datetime.datetime.utcnow(); give it FIXED.

    Only botocore.auth's own name for the datetime module is replaced, with
    a copy whose datetime class is pinned, so nothing else is affected.
    Each signature is then checked to carry AMZ_DATE, so a botocore that
    reads the clock another way fails loudly instead of comparing noise.
    """
    fake = types.ModuleType('datetime')
    fake.__dict__.update(datetime.__dict__)
    fake.datetime = _FixedDatetime
    monkeypatch.setattr(botocore.auth, 'datetime', fake)


@pytest.fixture(scope='module')
def tool():
    if not os.access(TOOL, os.X_OK):
        pytest.fail(f'{TOOL} not built (set CDGATE_BUILD)')
    return TOOL


class _RecordingSigV4Auth(botocore.auth.SigV4Auth):
    creq = None

    def canonical_request(self, request):
        self.creq = super().canonical_request(request)
        return self.creq


def botocore_sign(url, region, body, token):
    req = AWSRequest(method='POST', url=url, data=body,
                     headers={'Content-Type': CONTENT_TYPE})
    auth = _RecordingSigV4Auth(Credentials(ACCESS, SECRET, token), 'ec2',
                               region)
    auth.add_auth(req)
    assert req.headers['X-Amz-Date'] == AMZ_DATE, 'clock was not fixed'
    signed = req.body
    assert auth.creq.endswith('\n' + hashlib.sha256(signed).hexdigest())
    return auth.creq, req.headers['Authorization'], signed, req


def c_sign(tool, host, region, token, params=None, body=None, path='/',
           normalize=False):
    lines = ['method=POST', f'path={path}', f'host={host}',
             f'header=Content-Type:{CONTENT_TYPE}', f'region={region}',
             'service=ec2', f'date={AMZ_DATE}', f'access={ACCESS}',
             f'secret={SECRET}']
    if token:
        lines.append(f'token={token}')
    if normalize:
        lines.append('normalize=1')
    if body is not None:
        lines.append(f'body={body.hex()}')
    for k, v in params or []:
        lines.append(f'param={k.encode().hex()}={v.encode().hex()}')
    proc = subprocess.run([tool], input='\n'.join(lines) + '\n',
                          capture_output=True, text=True, timeout=30,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    out = {'add': []}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition('=')
        if key == 'add':
            out['add'].append(value)
        else:
            out[key] = value
    assert proc.stdout.splitlines()[-1].startswith('authorization=')
    return {
        'body': bytes.fromhex(out['body']),
        'creq': bytes.fromhex(out['creq']).decode('utf-8'),
        'authz': out['authorization'],
        'add': out['add'],
    }


@pytest.mark.parametrize('token', TOKENS)
@pytest.mark.parametrize('url,host,region', ENDPOINTS)
@pytest.mark.parametrize('params', REQUESTS)
def test_query_request_matches_botocore(tool, fixed_clock, params, url,
                                        host, region, token):
    body = form_body(params)
    creq, authz, signed, req = botocore_sign(url, region, body, token)
    c = c_sign(tool, host, region, token, params=params)
    assert c['body'] == signed       # sigv4_form_add == what botocore signs
    assert c['creq'] == creq
    assert c['authz'] == authz
    assert c['add'] == (['X-Amz-Date', 'X-Amz-Security-Token'] if token
                        else ['X-Amz-Date'])
    if token:
        assert req.headers['X-Amz-Security-Token'] == token
        assert 'x-amz-security-token' in authz


@pytest.mark.parametrize('token', TOKENS)
@pytest.mark.parametrize('params', REQUESTS[1::2])
def test_botocore_dict_body_signed_byte_for_byte(tool, fixed_clock, params,
                                                 token):
    """botocore's own form encoding (urlencode: space as '+'), passed as
    raw bytes: the C side signs whatever exact bytes it is given."""
    url, host, region = ENDPOINTS[0].values
    req = AWSRequest(method='POST', url=url, data=dict(params),
                     headers={'Content-Type': CONTENT_TYPE})
    exact = req.body
    creq, authz, signed, _ = botocore_sign(url, region, exact, token)
    assert signed == exact
    c = c_sign(tool, host, region, token, body=exact)
    assert c['body'] == exact
    assert c['creq'] == creq
    assert c['authz'] == authz


def _paths():
    """Paths with dot segments, empty segments and bytes to encode, from a
    fixed seed, plus the hand-picked edges."""
    import random
    rnd = random.Random(4)
    parts = ['', '.', '..', 'a', 'b', 'example', '$delete', 'x-y_z~', '%41',
             'caf\u00e9', '...', '.a', 'a.']
    out = ['/', '//', '/.', '/..', '/./', '/../', '/a/..', '/a/../', '/a/b/..',
           '/a/b/../', '/../a', '//a//b//', '/a/./b/../../c/', '/...',
           '/example/$delete']
    for _ in range(150):
        p = '/' + '/'.join(rnd.choice(parts) for _ in range(rnd.randint(1, 7)))
        out.append(p)
    return out


@pytest.mark.parametrize('token', TOKENS[:1])
def test_normalised_paths_match_botocore(tool, fixed_clock, token):
    """sigv4_req.normalize_path against botocore's normalize_url_path (the
    AWS rule for every service but S3): the same canonical path and
    signature for 165 paths.  cdgate's EC2 requests always use "/"; this
    holds the option the normalize-path/ vectors use to botocore too."""
    url0, host, region = ENDPOINTS[0].values
    body = form_body([('Action', 'DescribeTags'), ('Version', VERSION)])
    checked = 0
    for path in _paths():
        url = url0.rstrip('/') + urllib.parse.quote(path, safe='/~$%')
        creq, authz, _, _ = botocore_sign(url, region, body, token)
        c = c_sign(tool, host, region, token, body=body,
                   path=urllib.parse.quote(path, safe='/~$%'), normalize=True)
        assert c['creq'].split('\n')[1] == creq.split('\n')[1], path
        assert c['creq'] == creq, path
        assert c['authz'] == authz, path
        checked += 1
    assert checked >= 160


def test_unnormalised_path_refused_without_normalize(tool):
    """Without normalize_path, a path AWS would normalise is refused, not
    signed as given (it would not verify)."""
    for path in ('/a/../b', '//', '/./', '/a//b'):
        proc = subprocess.run([tool], input='\n'.join([
            'method=POST', f'path={path}', 'host=ec2.us-east-1.amazonaws.com',
            'region=us-east-1', 'service=ec2', f'date={AMZ_DATE}',
            f'access={ACCESS}', f'secret={SECRET}', 'body=']) + '\n',
            capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 64, (path, proc.stderr)
        assert 'not normalised' in proc.stderr, (path, proc.stderr)
