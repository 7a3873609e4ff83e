#!/bin/bash
# wait.sh: the hand-written wait cdgate is compared with in docs/dev/bench.md:
# poll the marker every INTERVAL seconds and read the tag each round (with
# curl from instance metadata, or with `aws ec2 describe-tags`), until both
# pass or TIMEOUT seconds have passed.  Same environment as gate.sh, plus
# INTERVAL (default 1) and TIMEOUT (default 60).
# Prints "wait: waiting" once the loop runs; exit 0 on pass, 2 on timeout.
set -uo pipefail

IMDS=${IMDS:-http://169.254.169.254}
MARKER=${MARKER:-/var/lib/cdgate/provisioned}
TAG_KEY=${TAG_KEY:-Role}
TAG_VALUE=${TAG_VALUE:-api}
INTERVAL=${INTERVAL:-1}
end=$((SECONDS + ${TIMEOUT:-60}))

TOKEN=$(curl -sf --noproxy '*' --max-time 2 -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/latest/api/token")
IID=$(curl -sf --noproxy '*' --max-time 2 \
    -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id")

read_tag() {
    if [[ ${TAGS_FROM:-imds} == aws ]]; then
        ${AWS:-aws} ec2 describe-tags ${EC2_ENDPOINT:+--endpoint-url "$EC2_ENDPOINT"} \
            --filters "Name=resource-id,Values=$IID" "Name=key,Values=$TAG_KEY" \
            --query 'Tags[0].Value' --output text
    else
        curl -sf --noproxy '*' --max-time 2 -H "X-aws-ec2-metadata-token: $TOKEN" \
            "$IMDS/latest/meta-data/tags/instance/$TAG_KEY"
    fi
}

echo "wait: waiting"
while ((SECONDS < end)); do
    ok=0
    if [[ -f $MARKER ]] && grep -qx 'status = ok' "$MARKER" &&
        grep -qx "instance_id = $IID" "$MARKER"; then
        ok=1
    fi
    value=$(read_tag) || value=
    if ((ok)) && [[ $value == "$TAG_VALUE" ]]; then
        echo "wait: PASS: marker ok, $TAG_KEY=$value"
        exit 0
    fi
    sleep "$INTERVAL"
done
echo "wait: FAIL: not provisioned within ${TIMEOUT:-60}s"
exit 2
