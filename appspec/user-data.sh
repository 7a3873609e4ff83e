#!/bin/bash
# Example EC2 User Data for an instance deployed by CodeDeploy in an Auto
# Scaling group, with cdgate installed in the AMI (make install: programs in
# /usr/local/bin, the codedeploy-agent drop-in in /etc/systemd/system).
#
# The field report's recipe, done right:
#  1. tag this instance first, because provisioning reads its role from
#     tags and the group's tags are not there yet during a launch
#     deployment; cdgate-tag waits until EC2 shows the tags;
#  2. provision, and record the outcome in the marker (ok, or failed with
#     the reason) whatever it is: the hooks wait for the marker and fail at
#     once on a failed one, so the instance is never put in service half
#     provisioned;
#  3. start the agent last, in every case.  The drop-in already holds the
#     agent until the marker exists (ExecStartPre=cdgate-wait) and orders it
#     after cloud-final.service, where this script runs: hence --no-block,
#     since a blocking start would wait for this very script to end.
#
# Replace the provisioning command and the repository paths with yours.
set -u
PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
export PATH

readonly ROLE=api
readonly ENV=production
readonly REPO=/opt/provision/itamae-repo

start_agent() {
	systemctl start --no-block codedeploy-agent
}

# 1. Tags (needs ec2:CreateTags and ec2:DescribeTags on the instance role).
if ! cdgate-tag "Role=$ROLE" "Env=$ENV"; then
	cdgate-mark --failed "cdgate-tag could not tag this instance; see the cloud-init output log"
	start_agent
	exit 1
fi

# 2. Provision.  cdgate-mark runs the command, writes the marker (ok or
#    failed with the exit status), records the tags provisioning acted on
#    and a digest of the provisioning code, and exits with the command's
#    status.  A failed download is recorded too.
status=0
if ! aws s3 sync "s3://itamae-repo/" "$REPO/" --delete; then
	cdgate-mark --failed "could not download the provisioning code from S3"
	status=1
else
	cdgate-mark --tag "Role=$ROLE" --tag "Env=$ENV" --digest "$REPO" \
		--run -- itamae local --node-yaml "$REPO/nodes/$ROLE-$ENV.yml" \
		"$REPO/bootstrap.rb" || status=$?
fi

# 3. The agent, last.
start_agent
exit "$status"
