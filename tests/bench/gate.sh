#!/bin/bash
# gate.sh: the hand-written BeforeInstall gate cdgate is compared with in
# docs/dev/bench.md: what users write today with bash + curl (+ the aws CLI).
# It does less than cdgate (no lifecycle state, no marker ownership or mode
# check, no boot id, no deadline, no history, no retries): it is the floor
# of what a script does, not a re-implementation.
#
# Environment:
#   IMDS       instance metadata base URL (default http://169.254.169.254)
#   MARKER     the provisioning marker (default /var/lib/cdgate/provisioned)
#   TAG_KEY    the tag to check (default Role), TAG_VALUE its value (api)
#   TAGS_FROM  imds (default): read the tag from instance metadata with curl;
#              aws: read it with `aws ec2 describe-tags` (AWS_* variables and
#              EC2_ENDPOINT, passed as --endpoint-url when set)
#   AWS        the aws CLI to run (default aws)
# Exit 0 when the instance passes, 1 otherwise, with a line saying why.
set -euo pipefail

IMDS=${IMDS:-http://169.254.169.254}
MARKER=${MARKER:-/var/lib/cdgate/provisioned}
TAG_KEY=${TAG_KEY:-Role}
TAG_VALUE=${TAG_VALUE:-api}

fail() { echo "gate: FAIL: $*"; exit 1; }

# IMDSv2: a token, then the instance id
TOKEN=$(curl -sf --noproxy '*' --max-time 2 -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS/latest/api/token") ||
    fail "no IMDSv2 token"
IID=$(curl -sf --noproxy '*' --max-time 2 \
    -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id") ||
    fail "no instance id"

# the marker: present, ok, for this instance
[[ -f $MARKER ]] || fail "marker $MARKER missing"
grep -qx 'status = ok' "$MARKER" || fail "marker status is not ok"
grep -qx "instance_id = $IID" "$MARKER" || fail "marker is not for $IID"

# the tag
if [[ ${TAGS_FROM:-imds} == aws ]]; then
    VALUE=$(${AWS:-aws} ec2 describe-tags ${EC2_ENDPOINT:+--endpoint-url "$EC2_ENDPOINT"} \
        --filters "Name=resource-id,Values=$IID" "Name=key,Values=$TAG_KEY" \
        --query 'Tags[0].Value' --output text) || fail "describe-tags failed"
else
    VALUE=$(curl -sf --noproxy '*' --max-time 2 \
        -H "X-aws-ec2-metadata-token: $TOKEN" \
        "$IMDS/latest/meta-data/tags/instance/$TAG_KEY") || fail "no tag $TAG_KEY"
fi
[[ $VALUE == "$TAG_VALUE" ]] || fail "tag $TAG_KEY is '$VALUE', want '$TAG_VALUE'"
echo "gate: PASS: marker ok, $TAG_KEY=$VALUE"
