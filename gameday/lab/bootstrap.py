"""Create the lab's control-plane resources with real boto3 calls.

What a drill expects to find in a two-region account: per region a VPC, a subnet and its
network ACL; an internal Application Load Balancer per region whose target group holds
the region's address (health-checked on ``/health``); a private hosted zone with a
failover record for the service, a simple record per region, and the alias variant of
the service name (``<record>-alias.<zone>``: failover alias records to each region's load
balancer with ``EvaluateTargetHealth``); an HTTP health check per region on its ``/health``; an Aurora-style
global cluster (primary writer, secondary reader); the application secret in the primary
replicated to the secondary; a DynamoDB global table in both regions (whose replication
FIS can pause; it holds the orders in the ``dynamodb`` data tier). The Aurora global
database exists in the ``aurora`` tier only. The IAM role FIS experiments run under
(``gameday-fis``) exists too, and the service's resources carry the tags
``gameday discover`` reads (``gameday:service``, ``gameday:region``, ``gameday:role``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from gameday.aws import client
from gameday.discovery.model import TAG_ROLE, TAG_SERVICE
from gameday.lab.config import CONTROL_PLANE_REQUEST_INTERVAL, LabConfig, RegionSpec

#: The IAM role FIS experiments run under (the var file's ``fis_role_arn``).
FIS_ROLE_NAME = "gameday-fis"


@dataclass(frozen=True)
class RegionResources:
    """What the lab created for one region."""

    name: str
    address: str
    role: str
    health_check_id: str
    vpc_id: str
    subnet_id: str
    network_acl_id: str
    db_cluster_id: str
    db_cluster_arn: str
    record_name: str
    load_balancer_arn: str
    load_balancer_dns_name: str
    target_group_arn: str


@dataclass(frozen=True)
class Resources:
    """Everything the lab created in its control plane."""

    zone_id: str
    zone_name: str
    record_name: str
    alias_record_name: str
    global_cluster_id: str
    secret_name: str
    table_name: str
    regions: Sequence[RegionResources]
    #: AWS seconds per lab second (the lab's one clock, :mod:`gameday.lab.clock`).
    speed: float
    #: The service's data tier (``aurora`` or ``dynamodb``).
    data_tier: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap(config: LabConfig, endpoint_url: str, service_port: int) -> Resources:
    """Create every lab resource through ``endpoint_url``; returns their ids."""

    def aws(service: str, region: str) -> Any:
        return client(service, region, endpoint_url=endpoint_url)

    networks = {
        spec.name: _network(aws("ec2", spec.name), index, spec.name)
        for index, spec in enumerate(config.regions)
    }
    balancers = {
        spec.name: _load_balancer(
            aws("elbv2", spec.name), spec.name, spec.address, service_port, *networks[spec.name][:2]
        )
        for spec in config.regions
    }
    zone_id, health_checks = _dns(
        aws("route53", config.primary.name), config, networks, balancers, service_port
    )

    clusters: dict[str, tuple[str, str]] = {spec.name: ("", "") for spec in config.regions}
    if config.data_tier == "aurora":  # the DynamoDB tier has no relational database
        _global_database(config, aws, clusters)
    _secret(aws, config, bool(clusters[config.primary.name][0]))
    _global_table(aws, config)
    _for_discovery(aws, config, balancers)

    return Resources(
        zone_id=zone_id,
        zone_name=config.zone,
        record_name=config.record_name,
        alias_record_name=alias_record_name(config),
        global_cluster_id=config.global_cluster if config.data_tier == "aurora" else "",
        secret_name=config.secret_name,
        table_name=config.table_name,
        regions=_region_resources(config, networks, health_checks, clusters, balancers),
        speed=config.speed,
        data_tier=config.data_tier,
    )


def _network(ec2: Any, index: int, region: str) -> tuple[str, str, str]:
    """One region's VPC, subnet and the subnet's network ACL, tagged: (vpc, subnet, acl) ids."""
    tags = [
        {"Key": "Name", "Value": f"gameday-lab-{region}"},
        {"Key": "gameday:region", "Value": region},
    ]
    vpc_id = ec2.create_vpc(
        CidrBlock=f"10.{index + 1}.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
    )["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock=f"10.{index + 1}.1.0/24",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}],
    )["Subnet"]["SubnetId"]
    acls = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
    )["NetworkAcls"]
    acl_id = acls[0]["NetworkAclId"]
    ec2.create_tags(Resources=[acl_id], Tags=tags)
    return vpc_id, subnet_id, acl_id


def _dns(
    route53: Any,
    config: LabConfig,
    networks: dict[str, tuple[str, str, str]],
    balancers: dict[str, _Balancer],
    service_port: int,
) -> tuple[str, dict[str, str]]:
    """The private hosted zone, a health check per region and the service's records in one
    change batch: (zone id, health check id per region)."""
    primary = config.primary
    zone = route53.create_hosted_zone(
        Name=config.zone,
        CallerReference=f"gameday-lab-{uuid.uuid4()}",
        HostedZoneConfig={"Comment": "gameday lab", "PrivateZone": True},
        VPC={"VPCRegion": primary.name, "VPCId": networks[primary.name][0]},
    )["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    changes: list[dict[str, Any]] = []
    health_checks: dict[str, str] = {}
    for spec, failover in zip(config.regions, ("PRIMARY", "SECONDARY"), strict=True):
        hc_id = _health_check(route53, config, spec, failover, service_port)
        health_checks[spec.name] = hc_id
        changes += _region_records(config, spec, failover, hc_id, balancers[spec.name])
    route53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Comment": "gameday lab", "Changes": changes}
    )
    return zone_id, health_checks


def _health_check(
    route53: Any, config: LabConfig, spec: RegionSpec, failover: str, service_port: int
) -> str:
    """An HTTP health check on the region's ``/health``, tagged for discovery; its id."""
    hc_id: str = route53.create_health_check(
        CallerReference=f"gameday-lab-{spec.name}-{uuid.uuid4()}",
        HealthCheckConfig={
            "Type": "HTTP",
            "IPAddress": spec.address,
            "Port": service_port,
            "ResourcePath": "/health",
            "RequestInterval": CONTROL_PLANE_REQUEST_INTERVAL,
            "FailureThreshold": config.failure_threshold,
        },
    )["HealthCheck"]["Id"]
    route53.change_tags_for_resource(
        ResourceType="healthcheck",
        ResourceId=hc_id,
        AddTags=[
            {"Key": "Name", "Value": f"gameday-lab-{spec.name}"},
            {"Key": "gameday:region", "Value": spec.name},
            {"Key": TAG_SERVICE, "Value": config.record_name},
            {"Key": TAG_ROLE, "Value": failover.lower()},
        ],
    )
    return hc_id


def _region_records(
    config: LabConfig, spec: RegionSpec, failover: str, hc_id: str, balancer: _Balancer
) -> list[dict[str, Any]]:
    """One region's changes: its failover record, its simple record and its failover alias."""
    return [
        _upsert(
            config.record_name,
            config.ttl,
            spec.address,
            SetIdentifier=f"{spec.name}-{failover.lower()}",
            Failover=failover,
            HealthCheckId=hc_id,
        ),
        _upsert(f"{spec.name}.{config.record_name}", config.ttl, spec.address),
        _alias(
            alias_record_name(config),
            balancer,
            SetIdentifier=f"{spec.name}-{failover.lower()}",
            Failover=failover,
        ),
    ]


def _secret(aws: Callable[[str, str], Any], config: LabConfig, has_database: bool) -> None:
    """The application secret in the primary, replicated to every other region."""
    aws("secretsmanager", config.primary.name).create_secret(
        Name=config.secret_name,
        # The application's connection: the Aurora tier connects to the global database
        # (a cut-over to a restored cluster changes dbClusterIdentifier).
        SecretString=json.dumps(
            {"username": "gameday", "password": "lab-only-password"}
            | ({"dbClusterIdentifier": config.global_cluster} if has_database else {})
        ),
        AddReplicaRegions=[{"Region": spec.name} for spec in config.regions[1:]],
    )


def _global_table(aws: Callable[[str, str], Any], config: LabConfig) -> None:
    """A global table (version 2019.11.21 style): the same table in every region."""
    for spec in config.regions:
        aws("dynamodb", spec.name).create_table(
            TableName=config.table_name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )


def _region_resources(
    config: LabConfig,
    networks: dict[str, tuple[str, str, str]],
    health_checks: dict[str, str],
    clusters: dict[str, tuple[str, str]],
    balancers: dict[str, _Balancer],
) -> list[RegionResources]:
    """What was created for each region, in the config's order."""
    regions: list[RegionResources] = []
    for spec in config.regions:
        vpc_id, subnet_id, acl_id = networks[spec.name]
        regions.append(
            RegionResources(
                name=spec.name,
                address=spec.address,
                role="writer"
                if spec is config.primary or config.data_tier == "dynamodb"
                else "reader",
                health_check_id=health_checks[spec.name],
                vpc_id=vpc_id,
                subnet_id=subnet_id,
                network_acl_id=acl_id,
                db_cluster_id=clusters[spec.name][0],
                db_cluster_arn=clusters[spec.name][1],
                record_name=f"{spec.name}.{config.record_name}",
                load_balancer_arn=balancers[spec.name].arn,
                load_balancer_dns_name=balancers[spec.name].dns_name,
                target_group_arn=balancers[spec.name].target_group_arn,
            )
        )
    return regions


#: Every lab cluster's DB instances: a writer and a reader (the reader is what an in-region
#: failover promotes), as a production Aurora cluster has at least.
INSTANCE_SUFFIXES = ("writer", "reader")
INSTANCE_CLASS = "db.r6g.large"
ENGINE = "aurora-postgresql"
PARAMETER_GROUP_FAMILY = "aurora-postgresql16"


def _global_database(
    config: LabConfig, aws: Callable[[str, str], Any], clusters: dict[str, tuple[str, str]]
) -> None:
    """An Aurora global database: the primary's cluster writes, the secondary's reads.

    Each cluster has its own cluster parameter group (``orders-<region>``; where a team
    sets ``rds.global_db_rpo``) and two DB instances, a writer and a reader.
    """
    rds = aws("rds", config.primary.name)
    rds.create_global_cluster(GlobalClusterIdentifier=config.global_cluster, Engine=ENGINE)
    for index, spec in enumerate(config.regions):
        regional = aws("rds", spec.name)
        cluster_id = f"orders-{spec.name}"
        regional.create_db_cluster_parameter_group(
            DBClusterParameterGroupName=cluster_id,
            DBParameterGroupFamily=PARAMETER_GROUP_FAMILY,
            Description="gameday lab: the orders cluster's parameters (rds.global_db_rpo)",
        )
        extra: dict[str, Any] = (
            {"MasterUsername": "gameday", "MasterUserPassword": "lab-only-password"}
            if index == 0
            else {}
        )
        cluster = regional.create_db_cluster(
            DBClusterIdentifier=cluster_id,
            Engine=ENGINE,
            GlobalClusterIdentifier=config.global_cluster,
            DBClusterParameterGroupName=cluster_id,
            **extra,
        )["DBCluster"]
        for suffix in INSTANCE_SUFFIXES:
            regional.create_db_instance(
                DBInstanceIdentifier=f"{cluster_id}-{suffix}",
                DBClusterIdentifier=cluster_id,
                Engine=ENGINE,
                DBInstanceClass=INSTANCE_CLASS,
            )
        clusters[spec.name] = (cluster_id, cluster["DBClusterArn"])


def _for_discovery(
    aws: Callable[[str, str], Any], config: LabConfig, balancers: dict[str, _Balancer]
) -> None:
    """The ``gameday:service`` tag discovery reads (README "Your first game day on AWS") on
    the load balancers, the secret and the table, and the role FIS experiments run under,
    which the var file's ``fis_role_arn`` names."""
    tags = [{"Key": TAG_SERVICE, "Value": config.record_name}]
    primary = config.primary.name
    for spec in config.regions:
        aws("elbv2", spec.name).add_tags(ResourceArns=[balancers[spec.name].arn], Tags=tags)
        dynamodb = aws("dynamodb", spec.name)
        arn = dynamodb.describe_table(TableName=config.table_name)["Table"]["TableArn"]
        dynamodb.tag_resource(ResourceArn=arn, Tags=tags)
    aws("secretsmanager", primary).tag_resource(SecretId=config.secret_name, Tags=tags)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "fis.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    aws("iam", primary).create_role(
        RoleName=FIS_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust), Tags=tags
    )


def _upsert(name: str, ttl: int, address: str, **routing: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": name,
        "Type": "A",
        "TTL": ttl,
        "ResourceRecords": [{"Value": address}],
        **routing,
    }
    return {"Action": "UPSERT", "ResourceRecordSet": record}


def alias_record_name(config: LabConfig) -> str:
    """The alias variant of the service name: ``api-alias.lab.internal`` by default."""
    return f"{config.record}-alias.{config.zone}"


@dataclass(frozen=True)
class _Balancer:
    arn: str
    dns_name: str
    hosted_zone_id: str
    target_group_arn: str


def _load_balancer(
    elbv2: Any, region: str, address: str, port: int, vpc_id: str, subnet_id: str
) -> _Balancer:
    """An internal ALB in front of the region: listener and target group on the service port.

    The target group checks ``/health`` every 10 s (2 successes / 2 failures), the fastest
    an ALB allows short of 5 s, so alias failover keeps pace with the Route 53 checks.
    """
    name = f"gameday-lab-{region}"
    lb = elbv2.create_load_balancer(
        Name=name,
        Subnets=[subnet_id],
        Scheme="internal",
        Type="application",
        Tags=[{"Key": "gameday:region", "Value": region}],
    )["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=port,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckProtocol="HTTP",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=10,
        HealthCheckTimeoutSeconds=5,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]
    elbv2.register_targets(
        TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": address, "Port": port}]
    )
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    return _Balancer(
        lb["LoadBalancerArn"], lb["DNSName"], lb["CanonicalHostedZoneId"], tg["TargetGroupArn"]
    )


def _alias(name: str, balancer: _Balancer, **routing: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": name,
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": balancer.hosted_zone_id,
            "DNSName": balancer.dns_name,
            "EvaluateTargetHealth": True,
        },
        **routing,
    }
    return {"Action": "UPSERT", "ResourceRecordSet": record}
