"""The keys of an environment var file: the one list the lab, discovery and docs share.

An environment is a Chaos Toolkit var file (``chaos run --var-file F``) whose
``configuration`` holds the names and ids every catalogue experiment reads. The lab writes
its own (:mod:`gameday.lab.varfile`), ``gameday discover`` writes one for a real account
(:mod:`gameday.discovery`), and a team may write one by hand
(``experiments/vars/aws.example.json``); all carry exactly :data:`KEYS`, in this order.
"""

from __future__ import annotations

__all__ = ["ENVIRONMENT_KEYS", "KEYS", "NULLABLE_KEYS"]

#: Every configuration key of an environment var file, lab or AWS (what each means is in
#: the README's "Pointing at real AWS").
KEYS = (
    "gameday_target",
    "gameday_allowed_accounts",
    "gameday_lab_dir",
    "aws_region",
    "aws_endpoint_url",
    "service_name",
    "service_port",
    "service_scheme",
    "nameserver",
    "hosted_zone_id",
    "primary_region",
    "secondary_region",
    "primary_endpoint",
    "secondary_endpoint",
    "primary_health_check_id",
    "secondary_health_check_id",
    "primary_subnet_id",
    "secondary_subnet_id",
    "primary_network_acl_id",
    "secondary_network_acl_id",
    "global_cluster_id",
    "primary_db_cluster_arn",
    "secondary_db_cluster_arn",
    "secret_name",
    "table_name",
    "table_arn",
    "fis_role_arn",
)

#: The keys that say how to reach the account rather than what is in it: no AWS call can
#: find them, so discovery takes them from the environment it runs in (lab or not, the
#: lab's directory, a non-default endpoint, the resolver to ask).
ENVIRONMENT_KEYS = ("gameday_target", "gameday_lab_dir", "aws_endpoint_url", "nameserver")

#: The keys whose null is a value, not a gap (``experiments/vars/aws.example.json``): no lab
#: directory, boto3's own endpoints, the system's resolver. A drill using one is not
#: refused for it.
NULLABLE_KEYS = ("gameday_lab_dir", "aws_endpoint_url", "nameserver")
