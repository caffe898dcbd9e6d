"""AWS's managed policies exist in the lab's account, as in every AWS account, though the
lab parses them only when a call reads them (gameday/lab/controlplane/iam.py)."""

from __future__ import annotations

import boto3
import pytest

from gameday.lab import Lab
from tests.lab.helpers import lab_is_the_shared_lab  # noqa: F401  (lab: the worker's shared lab)

pytestmark = pytest.mark.lab

FIS_NETWORK_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSFaultInjectionSimulatorNetworkAccess"


def test_aws_managed_policies_are_there_and_attach_to_the_fis_role(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    iam = boto3.client("iam", region_name=lab.info.primary.name)
    policy = iam.get_policy(PolicyArn=FIS_NETWORK_ACCESS)["Policy"]
    assert policy["PolicyName"] == "AWSFaultInjectionSimulatorNetworkAccess"
    listed = iam.list_policies(Scope="AWS", MaxItems=1000)
    assert len(listed["Policies"]) == 1000 and listed["IsTruncated"]  # 1,582 in moto 5.2.5
    own = iam.create_policy(PolicyName="gameday-test-own", PolicyDocument=_DOCUMENT)["Policy"]
    try:
        assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == [own["Arn"]]
        iam.attach_role_policy(RoleName="gameday-fis", PolicyArn=FIS_NETWORK_ACCESS)
        attached = iam.list_attached_role_policies(RoleName="gameday-fis")["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [FIS_NETWORK_ACCESS]
    finally:
        iam.detach_role_policy(RoleName="gameday-fis", PolicyArn=FIS_NETWORK_ACCESS)
        iam.delete_policy(PolicyArn=own["Arn"])


_DOCUMENT = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "fis:List*", "Resource": "*"}]}'
