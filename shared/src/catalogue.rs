//! The catalogue of CloudWatch metrics that AWS publishes for each kind of resource.
//!
//! This table is the single source of truth, for both halves of ConvOps, about **which metrics
//! are read** for a resource and **which direction of movement is trouble**:
//!
//! - The agent may not call `cloudwatch:ListMetrics`, so when an alarm fires (or discovery finds a
//!   resource) it names the related metrics of that resource from here: it matches the alarm's
//!   namespace and dimension names to a [`ResourceKind`] with [`kind_of`] and then reads the
//!   kind's [`ResourceKind::metrics`] in order, most diagnostic first, until its budget runs out.
//! - The control plane classifies every metric series it receives with [`spec`]: what the metric
//!   measures ([`Signal`]) and which way it moves when something is wrong ([`Trouble`]).
//!
//! Every kind cites the AWS documentation page that lists its metrics (`doc`). Statistics and
//! units follow those pages; trouble directions follow AWS's recommended alarms
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Best_Practice_Recommended_Alarms_AWS_Services.html>):
//! errors, latency, utilisation and backlog are trouble going up; balances, free memory or space,
//! healthy host counts, `HealthCheckStatus` and in-service instances are trouble going down.
//! Load metrics (request counts, invocations, messages arriving) are marked `Up` (a surge), while
//! success counts (2XX, delivered, succeeded) are marked `Down` and metrics whose meaning depends
//! on context (a producer stopping or surging) are marked `Either`.
//!
//! The dimension sets are the ones AWS documents for one resource of the kind, all required.
//! Many services also publish the same metrics under wider or narrower sets (per Availability
//! Zone, per stage and resource, per operation…); those are not separate kinds here unless they
//! are commonly alarmed on.
//!
//! This file is data reviewed by hand: keep each kind to the metrics that matter for a diagnosis,
//! ordered from most to least diagnostic.

/// Which way a metric moves when something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// A rise is trouble (errors, latency, utilisation, backlog, load surges).
    Up,
    /// A fall is trouble (balances, free memory or space, healthy counts, success counts).
    Down,
    /// A change either way is worth explaining (traffic that may stop or surge, failovers).
    Either,
}

/// What a metric measures, as the diagnosis cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Requests, messages or invocations arriving (load).
    Traffic,
    /// Response time, duration, iterator age.
    Latency,
    /// 5xx, errors, failed executions or notifications.
    Errors,
    /// 4xx and other client-caused errors.
    ClientErrors,
    /// Healthy/unhealthy host counts, status checks, `HealthCheckStatus`.
    Health,
    /// Queue depth, age of the oldest message, pending work.
    Backlog,
    /// CPU utilisation (service, instance, database, cache engine).
    Cpu,
    /// `CPUCreditBalance`, `CPUSurplusCreditBalance` and credit usage.
    CpuCredits,
    /// Memory utilisation, used percent, swap, evictions as memory pressure.
    Memory,
    /// `FreeableMemory` and similar (down is trouble).
    FreeMemory,
    /// Free storage (down is trouble) or disk used percent (up is trouble).
    Storage,
    /// EBS/RDS `BurstBalance` and other I/O burst balances (down is trouble).
    BurstBalance,
    /// Database or cache connections, active connection and flow counts.
    Connections,
    /// IOPS and throughput of disks and file systems.
    Iops,
    /// Read/write latency of disks, `VolumeQueueLength`, `DiskQueueDepth`.
    DiskLatency,
    /// Throttles, throttle events, provisioned throughput exceeded, allowance exceeded.
    Throttles,
    /// `ConcurrentExecutions`, `UnreservedConcurrentExecutions`.
    Concurrency,
    /// Reservations, in-service or running counts, desired vs in service, port allocation
    /// errors, provisioned capacity.
    Capacity,
    /// DynamoDB consumed read/write capacity units.
    ConsumedCapacity,
    /// Network in/out, packets, bytes.
    Network,
    /// Replica lag.
    Replication,
    /// Anything else.
    Other,
}

/// One metric of a resource kind and how to read and judge it.
#[derive(Debug, Clone, Copy)]
pub struct MetricSpec {
    /// The metric name exactly as CloudWatch publishes it.
    pub name: &'static str,
    /// The statistic to read it with: Sum, Average, Minimum or Maximum (SampleCount where AWS
    /// documents it as the metric's meaning, as for API Gateway `Count`).
    pub stat: &'static str,
    /// The unit AWS documents (Count, Percent, Seconds, Milliseconds, Bytes, Count/Second, None…).
    pub unit: &'static str,
    /// Which way the metric moves when something is wrong.
    pub trouble: Trouble,
    /// What the metric measures.
    pub signal: Signal,
}

/// A kind of resource: a namespace, the dimension names that identify one resource, and the
/// metrics AWS publishes for it.
#[derive(Debug, Clone, Copy)]
pub struct ResourceKind {
    /// Stable id, such as "alb", "alb_target_group", "rds_instance", "lambda_function".
    pub id: &'static str,
    /// The CloudWatch namespace, such as "AWS/ApplicationELB".
    pub namespace: &'static str,
    /// The dimension names that identify one resource of this kind, all required, e.g.
    /// ["LoadBalancer", "TargetGroup"], ["FunctionName"], [] for account-level Lambda.
    pub dimensions: &'static [&'static str],
    /// The AWS documentation page listing these metrics.
    pub doc: &'static str,
    /// The metrics, most diagnostic first.
    pub metrics: &'static [MetricSpec],
}

impl ResourceKind {
    /// The spec of the metric called `name` in this kind, if listed.
    pub fn metric(&self, name: &str) -> Option<&'static MetricSpec> {
        let metrics: &'static [MetricSpec] = self.metrics;
        metrics.iter().find(|m| m.name == name)
    }
}

/// Shorthand for a table row.
const fn m(
    name: &'static str,
    stat: &'static str,
    unit: &'static str,
    trouble: Trouble,
    signal: Signal,
) -> MetricSpec {
    MetricSpec {
        name,
        stat,
        unit,
        trouble,
        signal,
    }
}

use self::Signal as S;
use self::Trouble as T;

// ---------------------------------------------------------------------------------------------
// Amazon EC2
// ---------------------------------------------------------------------------------------------

const DOC_EC2: &str =
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html";

/// AWS/EC2, per instance (InstanceId).
#[rustfmt::skip]
static EC2_INSTANCE: &[MetricSpec] = &[
    m("CPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("StatusCheckFailed", "Maximum", "Count", T::Up, S::Health),
    m("StatusCheckFailed_Instance", "Maximum", "Count", T::Up, S::Health),
    m("StatusCheckFailed_System", "Maximum", "Count", T::Up, S::Health),
    m("StatusCheckFailed_AttachedEBS", "Maximum", "Count", T::Up, S::Health),
    // AWS documents the credit metrics in "Credits (vCPU-minutes)"; CloudWatch carries them as
    // plain counts.
    m("CPUCreditBalance", "Minimum", "Count", T::Down, S::CpuCredits),
    m("CPUSurplusCreditBalance", "Maximum", "Count", T::Up, S::CpuCredits),
    m("CPUCreditUsage", "Sum", "Count", T::Up, S::CpuCredits),
    m("CPUSurplusCreditsCharged", "Sum", "Count", T::Up, S::CpuCredits),
    m("EBSIOBalance%", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("EBSByteBalance%", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("NetworkIn", "Sum", "Bytes", T::Either, S::Network),
    m("NetworkOut", "Sum", "Bytes", T::Either, S::Network),
    m("NetworkPacketsIn", "Sum", "Count", T::Either, S::Network),
    m("NetworkPacketsOut", "Sum", "Count", T::Either, S::Network),
    m("EBSReadOps", "Sum", "Count", T::Up, S::Iops),
    m("EBSWriteOps", "Sum", "Count", T::Up, S::Iops),
    m("EBSReadBytes", "Sum", "Bytes", T::Up, S::Iops),
    m("EBSWriteBytes", "Sum", "Bytes", T::Up, S::Iops),
    m("MetadataNoToken", "Sum", "Count", T::Up, S::Other),
];

/// AWS/EC2 aggregated over the instances of an Auto Scaling group (AutoScalingGroupName);
/// target-tracking and step-scaling alarms usually watch these.
#[rustfmt::skip]
static EC2_ASG_AGGREGATE: &[MetricSpec] = &[
    m("CPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("StatusCheckFailed", "Maximum", "Count", T::Up, S::Health),
    m("StatusCheckFailed_Instance", "Maximum", "Count", T::Up, S::Health),
    m("StatusCheckFailed_System", "Maximum", "Count", T::Up, S::Health),
    m("CPUCreditBalance", "Minimum", "Count", T::Down, S::CpuCredits),
    m("EBSIOBalance%", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("EBSByteBalance%", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("NetworkIn", "Sum", "Bytes", T::Either, S::Network),
    m("NetworkOut", "Sum", "Bytes", T::Either, S::Network),
];

// ---------------------------------------------------------------------------------------------
// Amazon EBS
// ---------------------------------------------------------------------------------------------

/// AWS/EBS, per volume (VolumeId).
#[rustfmt::skip]
static EBS_VOLUME: &[MetricSpec] = &[
    // 0 (pass) or 1 (fail): the volume is not completing the I/O asked of it.
    m("VolumeStalledIOCheck", "Maximum", "None", T::Up, S::Health),
    // 0 or 1: the workload consistently asked for more IOPS / throughput than provisioned.
    m("VolumeIOPSExceededCheck", "Maximum", "None", T::Up, S::Throttles),
    m("VolumeThroughputExceededCheck", "Maximum", "None", T::Up, S::Throttles),
    m("BurstBalance", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("VolumeQueueLength", "Average", "Count", T::Up, S::DiskLatency),
    m("VolumeTotalReadTime", "Sum", "Seconds", T::Up, S::DiskLatency),
    m("VolumeTotalWriteTime", "Sum", "Seconds", T::Up, S::DiskLatency),
    m("VolumeReadOps", "Sum", "Count", T::Up, S::Iops),
    m("VolumeWriteOps", "Sum", "Count", T::Up, S::Iops),
    m("VolumeReadBytes", "Sum", "Bytes", T::Up, S::Iops),
    m("VolumeWriteBytes", "Sum", "Bytes", T::Up, S::Iops),
    // Less idle time means a busier, possibly saturated, volume.
    m("VolumeIdleTime", "Sum", "Seconds", T::Down, S::Iops),
    // io1/io2 only: share of the provisioned IOPS delivered.
    m("VolumeThroughputPercentage", "Average", "Percent", T::Down, S::Iops),
    m("VolumeConsumedReadWriteOps", "Sum", "Count", T::Up, S::Iops),
];

// ---------------------------------------------------------------------------------------------
// Amazon ECS and Container Insights
// ---------------------------------------------------------------------------------------------

const DOC_ECS: &str =
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html";
const DOC_CONTAINER_INSIGHTS_ECS: &str =
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html";

/// AWS/ECS, per service (ClusterName, ServiceName).
#[rustfmt::skip]
static ECS_SERVICE: &[MetricSpec] = &[
    m("CPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("MemoryUtilization", "Average", "Percent", T::Up, S::Memory),
    // Only when EBS volumes are attached to the service's tasks.
    m("EBSFilesystemUtilization", "Maximum", "Percent", T::Up, S::Storage),
];

/// AWS/ECS, per cluster (ClusterName). Reservations are only published for EC2 capacity.
#[rustfmt::skip]
static ECS_CLUSTER: &[MetricSpec] = &[
    m("CPUReservation", "Maximum", "Percent", T::Up, S::Capacity),
    m("MemoryReservation", "Maximum", "Percent", T::Up, S::Capacity),
    m("CPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("MemoryUtilization", "Average", "Percent", T::Up, S::Memory),
    m("GPUReservation", "Maximum", "Percent", T::Up, S::Capacity),
];

/// ECS/ContainerInsights, per service (ClusterName, ServiceName). Needs Container Insights.
#[rustfmt::skip]
static CONTAINER_INSIGHTS_SERVICE: &[MetricSpec] = &[
    m("RunningTaskCount", "Minimum", "Count", T::Down, S::Capacity),
    m("DesiredTaskCount", "Average", "Count", T::Either, S::Capacity),
    m("PendingTaskCount", "Maximum", "Count", T::Up, S::Capacity),
    // CPU units.
    m("CpuUtilized", "Average", "None", T::Up, S::Cpu),
    m("MemoryUtilized", "Average", "Megabytes", T::Up, S::Memory),
    m("CpuReserved", "Average", "None", T::Either, S::Capacity),
    m("MemoryReserved", "Average", "Megabytes", T::Either, S::Capacity),
    // More than one deployment or task set means a deployment is in progress (or stuck).
    m("DeploymentCount", "Maximum", "Count", T::Up, S::Capacity),
    m("TaskSetCount", "Maximum", "Count", T::Up, S::Capacity),
    // Fargate only.
    m("EphemeralStorageUtilized", "Maximum", "Gigabytes", T::Up, S::Storage),
    m("EphemeralStorageReserved", "Average", "Gigabytes", T::Either, S::Storage),
    m("NetworkRxBytes", "Average", "Bytes/Second", T::Either, S::Network),
    m("NetworkTxBytes", "Average", "Bytes/Second", T::Either, S::Network),
    m("StorageReadBytes", "Average", "Bytes", T::Up, S::Iops),
    m("StorageWriteBytes", "Average", "Bytes", T::Up, S::Iops),
];

/// ECS/ContainerInsights, per cluster (ClusterName). Needs Container Insights.
#[rustfmt::skip]
static CONTAINER_INSIGHTS_CLUSTER: &[MetricSpec] = &[
    m("ContainerInstanceCount", "Minimum", "Count", T::Down, S::Capacity),
    m("TaskCount", "Average", "Count", T::Either, S::Capacity),
    m("ServiceCount", "Average", "Count", T::Either, S::Other),
    m("CpuUtilized", "Average", "None", T::Up, S::Cpu),
    m("MemoryUtilized", "Average", "Megabytes", T::Up, S::Memory),
    m("CpuReserved", "Average", "None", T::Either, S::Capacity),
    m("MemoryReserved", "Average", "Megabytes", T::Either, S::Capacity),
    m("EphemeralStorageUtilized", "Maximum", "Gigabytes", T::Up, S::Storage),
    m("EphemeralStorageReserved", "Average", "Gigabytes", T::Either, S::Storage),
    m("NetworkRxBytes", "Average", "Bytes/Second", T::Either, S::Network),
    m("NetworkTxBytes", "Average", "Bytes/Second", T::Either, S::Network),
    m("StorageReadBytes", "Average", "Bytes", T::Up, S::Iops),
    m("StorageWriteBytes", "Average", "Bytes", T::Up, S::Iops),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [CI] https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
    // [CI] "The total percentage of file system capacity being used on a single EC2 instance in the
    // cluster." Percent. (stat: convention)
    m("instance_filesystem_utilization", "Maximum", "Percent", T::Up, S::Storage),
    // [CI] "The total percentage of memory being used on a single EC2 Instance in the cluster."
    // Percent. (stat: convention)
    m("instance_memory_utilization", "Maximum", "Percent", T::Up, S::Memory),
    // [CI] "The total percentage of CPU units being used on a single EC2 instance in the cluster."
    // Percent. (stat: convention)
    m("instance_cpu_utilization", "Average", "Percent", T::Up, S::Cpu),
    // [CI] "The percentage of CPU currently being reserved on a single EC2 instance in the
    // cluster." Percent. (stat: convention)
    m("instance_cpu_reserved_capacity", "Maximum", "Percent", T::Up, S::Capacity),
    // [CI] "The percentage of Memory currently being reserved on a single EC2 Instance in the
    // cluster." Percent. (stat: convention)
    m("instance_memory_reserved_capacity", "Maximum", "Percent", T::Up, S::Capacity),
];

// ---------------------------------------------------------------------------------------------
// Amazon RDS and Aurora
// ---------------------------------------------------------------------------------------------

/// AWS/RDS, per DB instance (DBInstanceIdentifier). Covers RDS engines and Aurora instances;
/// engine- or class-specific metrics (FreeLocalStorage on NVMe classes, AuroraReplicaLag,
/// Deadlocks, CommitLatency, DMLLatency, BufferCacheHitRatio, the Aurora MySQL and PostgreSQL rows
/// added at the end) are interleaved by importance, and a metric an engine does not publish simply
/// comes back empty.
#[rustfmt::skip]
static RDS_INSTANCE: &[MetricSpec] = &[
    m("CPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("DatabaseConnections", "Average", "Count", T::Up, S::Connections),
    m("FreeableMemory", "Minimum", "Bytes", T::Down, S::FreeMemory),
    m("FreeStorageSpace", "Minimum", "Bytes", T::Down, S::Storage),
    m("FreeLocalStorage", "Minimum", "Bytes", T::Down, S::Storage),
    m("ReadLatency", "Average", "Seconds", T::Up, S::DiskLatency),
    m("WriteLatency", "Average", "Seconds", T::Up, S::DiskLatency),
    m("DiskQueueDepth", "Average", "Count", T::Up, S::DiskLatency),
    // Average active sessions (Performance Insights / Database Insights).
    m("DBLoad", "Average", "None", T::Up, S::Other),
    m("DBLoadCPU", "Average", "None", T::Up, S::Cpu),
    m("DBLoadNonCPU", "Average", "None", T::Up, S::Other),
    m("ReplicaLag", "Maximum", "Seconds", T::Up, S::Replication),
    m("AuroraReplicaLag", "Maximum", "Milliseconds", T::Up, S::Replication),
    m("Deadlocks", "Average", "Count/Second", T::Up, S::Errors),
    m("CommitLatency", "Average", "Milliseconds", T::Up, S::Latency),
    m("DMLLatency", "Average", "Milliseconds", T::Up, S::Latency),
    m("ReadIOPS", "Average", "Count/Second", T::Up, S::Iops),
    m("WriteIOPS", "Average", "Count/Second", T::Up, S::Iops),
    m("ReadThroughput", "Average", "Bytes/Second", T::Up, S::Iops),
    m("WriteThroughput", "Average", "Bytes/Second", T::Up, S::Iops),
    m("SwapUsage", "Maximum", "Bytes", T::Up, S::Memory),
    m("BurstBalance", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("CPUCreditBalance", "Minimum", "Count", T::Down, S::CpuCredits),
    m("EBSIOBalance%", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("EBSByteBalance%", "Minimum", "Percent", T::Down, S::BurstBalance),
    m("BufferCacheHitRatio", "Average", "Percent", T::Down, S::Memory),
    // PostgreSQL: transaction ID wraparound and replication slots.
    m("MaximumUsedTransactionIDs", "Maximum", "Count", T::Up, S::Other),
    m("TransactionLogsDiskUsage", "Maximum", "Bytes", T::Up, S::Storage),
    m("OldestReplicationSlotLag", "Maximum", "Bytes", T::Up, S::Replication),
    m("NetworkReceiveThroughput", "Average", "Bytes/Second", T::Either, S::Network),
    m("NetworkTransmitThroughput", "Average", "Bytes/Second", T::Either, S::Network),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [AUR] https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html
    // [OOM] https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQLOOM.html
    // [RDS] https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html
    // [AUR] EngineUptime "The amount of time that the instance has been running." (Seconds). A drop
    // means the engine restarted (crash, reboot, failover). (stat: convention)
    m("EngineUptime", "Minimum", "Seconds", T::Down, S::Health),
    // [AUR] "Indicates the memory health state. A value of 0 equals NORMAL. A value of 10 equals
    // RESERVED" (unit "Gauge"; Aurora MySQL 3.06.1+). [OOM] adds "5 means moderate memory
    // pressure". (stat: convention)
    m("AuroraMemoryHealthState", "Maximum", "None", T::Up, S::Memory),
    // [AUR] "The incremental number of connections closed as part of OOM avoidance." Count. Clients
    // see their connections dropped. (stat: convention)
    m("AuroraMemoryNumKillConnTotal", "Sum", "Count", T::Up, S::Memory),
    // [AUR] "The incremental number of queries ended as part of OOM avoidance." Count. (stat:
    // convention)
    m("AuroraMemoryNumKillQueryTotal", "Sum", "Count", T::Up, S::Memory),
    // [AUR] "The incremental number of queries declined as part of out-of-memory (OOM) avoidance."
    // Count. (stat: convention)
    m("AuroraMemoryNumDeclinedSqlTotal", "Sum", "Count", T::Up, S::Memory),
    // [RDS] "The amount of available storage space on the log volume." Bytes (dedicated log
    // volume). When it runs out the instance goes storage-full. (stat: convention)
    m("FreeStorageSpaceLogVolume", "Minimum", "Bytes", T::Down, S::Storage),
    // [RDS] "The percentage of available local storage space." Percent (NVMe instance-store
    // classes). (stat: convention)
    m("FreeLocalStoragePercent", "Minimum", "Percent", T::Down, S::Storage),
    // [AUR] "The amount of available Ephemeral NVMe storage." Bytes (Aurora PostgreSQL Optimized
    // Reads). (stat: convention)
    m("FreeEphemeralStorage", "Minimum", "Bytes", T::Down, S::Storage),
    // [RDS]/[AUR] "The disk space used by replication slot files." Bytes (PostgreSQL). A stuck slot
    // fills the disk. (stat: convention)
    m("ReplicationSlotDiskUsage", "Maximum", "Bytes", T::Up, S::Storage),
    // [RDS] "The lagging size of the Amazon RDS commits a transaction on the source database and
    // the time when RDS applies the transaction on the replica database." Bytes (PostgreSQL).
    // (stat: convention)
    m("OldestLogicalReplicationSlotLag", "Maximum", "Bytes", T::Up, S::Replication),
    // [RDS] "The amount of disk space occupied by binary logs." Bytes (MySQL, MariaDB). Binlog
    // growth eats FreeStorageSpace. (stat: convention)
    m("BinLogDiskUsage", "Maximum", "Bytes", T::Up, S::Storage),
    // [AUR] "The undo logs that record committed transactions with delete-marked records. These
    // records are scheduled to be processed by the InnoDB purge operation." Count (Aurora MySQL).
    // Points to long-running transactions or purge lag. (stat: convention; the brief's example used
    // Average, which is also fine)
    m("RollbackSegmentHistoryListLength", "Maximum", "Count", T::Up, S::Other),
    // [AUR] "The age of the oldest active running transaction." Seconds (Aurora MySQL 3.08+).
    // (stat: convention)
    m("TransactionAgeMaximum", "Maximum", "Seconds", T::Up, S::Other),
    // [AUR] "The average number of transactions in the database that are blocked per second." Count
    // per second (Aurora MySQL). Lock contention. (stat: convention)
    m("BlockedTransactions", "Average", "Count/Second", T::Up, S::Other),
    // [AUR] "The total time spent acquiring row locks for InnoDB tables." Milliseconds (Aurora
    // MySQL). The page does not say whether this is per period or cumulative. (stat: convention)
    m("RowLockTime", "Average", "Milliseconds", T::Up, S::Latency),
    // [AUR] "The average number of current transactions executing ... per second. By default,
    // Aurora doesn't enable this metric" (needs innodb_monitor_enable='all'). Count per second.
    // (stat: convention)
    m("ActiveTransactions", "Average", "Count/Second", T::Up, S::Other),
    // [AUR] "The maximum amount of lag between the primary instance and any of the Aurora DB
    // instance in the DB cluster." Milliseconds. Instance-level, on the primary. (stat: convention)
    m("AuroraReplicaLagMaximum", "Maximum", "Milliseconds", T::Up, S::Replication),
    // [AUR] "The amount of time that a binary log replica DB cluster running on Aurora MySQL lags
    // behind the binary log replication source." Seconds; -1 means the lag cannot be determined.
    // (stat: convention)
    m("AuroraBinlogReplicaLag", "Maximum", "Seconds", T::Up, S::Replication),
    // [AUR] "The average amount of time for select operations." Milliseconds (Aurora MySQL).
    // AURORA_CLUSTER has this row but RDS_INSTANCE does not. (stat: convention)
    m("SelectLatency", "Average", "Milliseconds", T::Up, S::Latency),
    // [AUR] "The average number of failed login attempts per second." Count per second (Aurora
    // MySQL). Bad credentials after a rotation. (stat: convention)
    m("LoginFailures", "Average", "Count/Second", T::Up, S::ClientErrors),
    // [RDS]/[AUR] "The number of attempts to connect to an instance, whether successful or not."
    // Count (MySQL, Aurora MySQL). Connection storms. (stat: convention)
    m("ConnectionAttempts", "Sum", "Count", T::Up, S::Connections),
    // [AUR] "The number of client connections that have not been closed properly." Count (Aurora
    // MySQL). (stat: convention)
    m("AbortedClients", "Sum", "Count", T::Up, S::Connections),
    // [AUR] "The average number of queries executed per second." Count per second (Aurora MySQL).
    // The load signal. (stat: convention)
    m("Queries", "Average", "Count/Second", T::Up, S::Traffic),
    // [AUR] "The average number of commit operations per second." Count per second (Aurora MySQL
    // and PostgreSQL). The load signal for Aurora PostgreSQL, which has no Queries metric. (stat:
    // convention)
    m("CommitThroughput", "Average", "Count/Second", T::Up, S::Traffic),
    // [RDS] "The amount of time since the most recent checkpoint." Seconds (PostgreSQL). (stat:
    // convention)
    m("CheckpointLag", "Maximum", "Seconds", T::Up, S::Other),
    // [RDS] "The size of transaction logs generated per second." Bytes per second (PostgreSQL). A
    // WAL surge explains TransactionLogsDiskUsage growth. (stat: convention)
    m("TransactionLogsGeneration", "Average", "Bytes/Second", T::Up, S::Iops),
    // [RDS] "The number of outstanding I/Os (read/write requests) waiting to access the log volume
    // disk." Count. (stat: convention)
    m("DiskQueueDepthLogVolume", "Average", "Count", T::Up, S::DiskLatency),
    // [RDS] "The average amount of time taken per disk I/O operation for the log volume." Seconds.
    // (stat: convention)
    m("WriteLatencyLogVolume", "Average", "Seconds", T::Up, S::DiskLatency),
    // [RDS]/[AUR] "The number of surplus credits that have been spent by an unlimited instance when
    // its CPUCreditBalance value is zero." Credits (vCPU-minutes), written as Count like the file's
    // EC2 rows. (stat: same as EC2_INSTANCE)
    m("CPUSurplusCreditBalance", "Maximum", "Count", T::Up, S::CpuCredits),
    // [RDS] "The amount of available data space on the tempdb and the volume where tempdb is
    // located." Bytes (SQL Server). (stat: convention)
    m("TempDbAvailableDataSpace", "Minimum", "Bytes", T::Down, S::Storage),
    // [RDS] "The amount of available log space on the tempdb ... prevent transaction log full
    // conditions." Bytes (SQL Server). (stat: convention)
    m("TempDbAvailableLogSpace", "Minimum", "Bytes", T::Down, S::Storage),
    // [RDS] "The number of failed Microsoft SQL Server Agent jobs during the last minute." The page
    // gives the unit as "Count per minute", which is not a CloudWatch unit, so Count. (stat:
    // convention)
    m("FailedSQLServerAgentJobsCount", "Sum", "Count", T::Up, S::Errors),
];

/// AWS/RDS, per Aurora cluster (DBClusterIdentifier) and per cluster role
/// (DBClusterIdentifier, Role = WRITER | READER): cluster-level metrics plus the instance-level
/// metrics Aurora aggregates by cluster.
#[rustfmt::skip]
static AURORA_CLUSTER: &[MetricSpec] = &[
    m("CPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("DatabaseConnections", "Average", "Count", T::Up, S::Connections),
    m("FreeableMemory", "Minimum", "Bytes", T::Down, S::FreeMemory),
    m("AuroraReplicaLag", "Maximum", "Milliseconds", T::Up, S::Replication),
    m("AuroraReplicaLagMaximum", "Maximum", "Milliseconds", T::Up, S::Replication),
    m("Deadlocks", "Average", "Count/Second", T::Up, S::Errors),
    m("CommitLatency", "Average", "Milliseconds", T::Up, S::Latency),
    m("DMLLatency", "Average", "Milliseconds", T::Up, S::Latency),
    m("SelectLatency", "Average", "Milliseconds", T::Up, S::Latency),
    m("ReadLatency", "Average", "Seconds", T::Up, S::DiskLatency),
    m("WriteLatency", "Average", "Seconds", T::Up, S::DiskLatency),
    m("FreeLocalStorage", "Minimum", "Bytes", T::Down, S::Storage),
    m("BufferCacheHitRatio", "Average", "Percent", T::Down, S::Memory),
    m("VolumeBytesUsed", "Maximum", "Bytes", T::Up, S::Storage),
    m("VolumeReadIOPs", "Average", "Count", T::Up, S::Iops),
    m("VolumeWriteIOPs", "Average", "Count", T::Up, S::Iops),
    // Aurora Serverless v2.
    m("ACUUtilization", "Maximum", "Percent", T::Up, S::Capacity),
    m("ServerlessDatabaseCapacity", "Average", "Count", T::Either, S::Capacity),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [AUR] https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html
    // [AUR] cluster-level: "The remaining available space for the cluster volume ... If it reaches
    // zero, the cluster reports an out-of-space error." Bytes (Aurora MySQL). (stat: convention)
    m("AuroraVolumeBytesLeftTotal", "Minimum", "Bytes", T::Down, S::Storage),
    // [AUR] cluster-level: "For an Aurora Global Database, the average time elapsed replicating
    // updates between the primary cluster's replication server and the secondary cluster's
    // replication server." Milliseconds (secondary Region only). (stat: convention)
    m("AuroraGlobalDBReplicationLag", "Maximum", "Milliseconds", T::Up, S::Replication),
    // [AUR] cluster-level: "the recovery point objective (RPO) lag time ... how far the secondary
    // cluster is behind the primary cluster for user transactions." Milliseconds. (stat:
    // convention)
    m("AuroraGlobalDBRPOLag", "Maximum", "Milliseconds", T::Up, S::Replication),
    // [AUR] "we recommend using the version of this metric associated with the WRITER role."
    // Seconds. (stat: convention)
    m("AuroraBinlogReplicaLag", "Maximum", "Seconds", T::Up, S::Replication),
    // [AUR] instance metric aggregated by role (see section 1). (stat: convention)
    m("RollbackSegmentHistoryListLength", "Maximum", "Count", T::Up, S::Other),
    // [AUR] "The age of the oldest unvacuumed transaction ID ... If this value reaches
    // 2,146,483,648 ... the database is forced into read-only mode". Count (Aurora PostgreSQL).
    // (stat: same as RDS_INSTANCE)
    m("MaximumUsedTransactionIDs", "Maximum", "Count", T::Up, S::Other),
    // [AUR] "The average number of transactions in the database that are blocked per second."
    // (stat: convention)
    m("BlockedTransactions", "Average", "Count/Second", T::Up, S::Other),
    // [AUR] "The number of outstanding read/write requests waiting to access the disk." Count.
    // (stat: same as RDS_INSTANCE)
    m("DiskQueueDepth", "Average", "Count", T::Up, S::DiskLatency),
    // [AUR] "The average number of commit operations per second." Load for both engines. (stat:
    // convention)
    m("CommitThroughput", "Average", "Count/Second", T::Up, S::Traffic),
];

// ---------------------------------------------------------------------------------------------
// Elastic Load Balancing
// ---------------------------------------------------------------------------------------------

const DOC_ALB: &str = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html";
const DOC_NLB: &str = "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html";

/// AWS/ApplicationELB, per load balancer (LoadBalancer).
#[rustfmt::skip]
static ALB: &[MetricSpec] = &[
    m("HTTPCode_ELB_5XX_Count", "Sum", "Count", T::Up, S::Errors),
    m("HTTPCode_Target_5XX_Count", "Sum", "Count", T::Up, S::Errors),
    m("TargetResponseTime", "Average", "Seconds", T::Up, S::Latency),
    m("RequestCount", "Sum", "Count", T::Up, S::Traffic),
    m("HTTPCode_ELB_502_Count", "Sum", "Count", T::Up, S::Errors),
    m("HTTPCode_ELB_503_Count", "Sum", "Count", T::Up, S::Errors),
    m("HTTPCode_ELB_504_Count", "Sum", "Count", T::Up, S::Errors),
    m("TargetConnectionErrorCount", "Sum", "Count", T::Up, S::Errors),
    m("RejectedConnectionCount", "Sum", "Count", T::Up, S::Capacity),
    m("HTTPCode_ELB_4XX_Count", "Sum", "Count", T::Up, S::ClientErrors),
    m("HTTPCode_Target_4XX_Count", "Sum", "Count", T::Up, S::ClientErrors),
    m("ClientTLSNegotiationErrorCount", "Sum", "Count", T::Up, S::ClientErrors),
    m("TargetTLSNegotiationErrorCount", "Sum", "Count", T::Up, S::Errors),
    m("ActiveConnectionCount", "Sum", "Count", T::Either, S::Connections),
    m("NewConnectionCount", "Sum", "Count", T::Either, S::Connections),
    m("ConsumedLCUs", "Sum", "Count", T::Up, S::Capacity),
    m("ProcessedBytes", "Sum", "Bytes", T::Either, S::Network),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [ALB] https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
    // [ALB] "The number of HTTP 500 error codes that originate from the load balancer ... The only
    // meaningful statistic is Sum." The file has 502, 503 and 504 but not 500.
    m("HTTPCode_ELB_500_Count", "Sum", "Count", T::Up, S::Errors),
    // [ALB] "The percentage of available load balancer capacity in use ... If this value remains
    // high, set or increase your LCU reservation ... The most useful statistic is Max." Range
    // 0–100.
    m("CapacityUtilization", "Maximum", "Percent", T::Up, S::Capacity),
    // [ALB] "user authentications that could not be completed because an authenticate action was
    // misconfigured, the load balancer couldn't establish a connection with the IdP ... only
    // meaningful statistic is Sum."
    m("ELBAuthError", "Sum", "Count", T::Up, S::Errors),
    // [ALB] "could not be completed because the IdP denied access to the user ... only meaningful
    // statistic is Sum."
    m("ELBAuthFailure", "Sum", "Count", T::Up, S::ClientErrors),
    // [ALB] "The time elapsed, in milliseconds, to query the IdP for the ID token and user info ...
    // All statistics are meaningful."
    m("ELBAuthLatency", "Average", "Milliseconds", T::Up, S::Latency),
    // [ALB] Target 2XX is published with dimension `LoadBalancer` alone ("The most useful statistic
    // is Sum"). It is a success count: a fall means requests stopped succeeding, as in
    // ALB_TARGET_GROUP.
    m("HTTPCode_Target_2XX_Count", "Sum", "Count", T::Down, S::Traffic),
    // [ALB] "The number of HTTP requests denied with an HTTP 403 response ... blocked by
    // resource-level DDoS protection ... only meaningful statistic is Sum." Explains 403s the
    // client sees.
    m("LowReputationRequestsDenied", "Sum", "Count", T::Up, S::ClientErrors),
];

/// AWS/ApplicationELB, per target group (LoadBalancer, TargetGroup).
#[rustfmt::skip]
static ALB_TARGET_GROUP: &[MetricSpec] = &[
    m("UnHealthyHostCount", "Maximum", "Count", T::Up, S::Health),
    m("HealthyHostCount", "Minimum", "Count", T::Down, S::Health),
    m("HTTPCode_Target_5XX_Count", "Sum", "Count", T::Up, S::Errors),
    m("TargetResponseTime", "Average", "Seconds", T::Up, S::Latency),
    m("RequestCount", "Sum", "Count", T::Up, S::Traffic),
    m("RequestCountPerTarget", "Sum", "Count", T::Up, S::Traffic),
    m("TargetConnectionErrorCount", "Sum", "Count", T::Up, S::Errors),
    m("TargetTLSNegotiationErrorCount", "Sum", "Count", T::Up, S::Errors),
    m("HTTPCode_Target_4XX_Count", "Sum", "Count", T::Up, S::ClientErrors),
    // Success count: a fall means requests stopped succeeding.
    m("HTTPCode_Target_2XX_Count", "Sum", "Count", T::Down, S::Traffic),
    // Targets flagged by automatic target weights (anomaly mitigation).
    m("AnomalousHostCount", "Maximum", "Count", T::Up, S::Health),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [ALB] https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
    // [ALB] target group health: "The number of requests that are routed using the routing failover
    // action (fail open) ... most useful statistic is Sum." Traffic is going to unhealthy targets.
    m("UnhealthyRoutingRequestCount", "Sum", "Count", T::Up, S::Health),
    // [ALB] "The number of zones that do not meet the routing healthy state requirements, and
    // therefore the load balancer distributes traffic to all targets in the zone, including the
    // unhealthy targets ... most useful statistic is Min."
    m("UnhealthyStateRouting", "Minimum", "Count", T::Up, S::Health),
    // [ALB] "The number of zones that do not meet the DNS healthy state requirements and therefore
    // were marked unhealthy in DNS ... most useful statistic is Min."
    m("UnhealthyStateDNS", "Minimum", "Count", T::Up, S::Health),
    // [ALB] "The number of zones that meet the routing healthy state requirements ... most useful
    // statistic is Max."
    m("HealthyStateRouting", "Maximum", "Count", T::Down, S::Health),
    // [ALB] "The number of targets under mitigation ... most useful statistics are Average,
    // Minimum, and Maximum." This is the companion of AnomalousHostCount.
    m("MitigatedHostCount", "Maximum", "Count", T::Up, S::Health),
    // [ALB] "The number of targets that are considered disabled due to zonal shift ... most useful
    // statistic is Sum." Serving capacity is reduced.
    m("ActiveZonalShiftHostCount", "Sum", "Count", T::Up, S::Capacity),
    // [ALB] Lambda targets: "failed because of an issue with the Lambda function ... only
    // meaningful statistic is Sum." Dimensions TargetGroup, LoadBalancer.
    m("LambdaUserError", "Sum", "Count", T::Up, S::Errors),
    // [ALB] "failed because of an issue internal to the load balancer or AWS Lambda ... only
    // meaningful statistic is Sum."
    m("LambdaInternalError", "Sum", "Count", T::Up, S::Errors),
];

/// AWS/NetworkELB, per load balancer (LoadBalancer).
#[rustfmt::skip]
static NLB: &[MetricSpec] = &[
    m("TCP_Target_Reset_Count", "Sum", "Count", T::Up, S::Errors),
    m("TCP_ELB_Reset_Count", "Sum", "Count", T::Up, S::Errors),
    m("TCP_Client_Reset_Count", "Sum", "Count", T::Up, S::ClientErrors),
    m("PortAllocationErrorCount", "Sum", "Count", T::Up, S::Capacity),
    m("ActiveFlowCount", "Average", "Count", T::Either, S::Connections),
    // A Network Load Balancer has no request count: a new flow is a client connection, its
    // measure of load ("The total number of new flows (or connections) established from
    // clients to targets").
    m("NewFlowCount", "Sum", "Count", T::Up, S::Traffic),
    m("TargetTLSNegotiationErrorCount", "Sum", "Count", T::Up, S::Errors),
    m("ClientTLSNegotiationErrorCount", "Sum", "Count", T::Up, S::ClientErrors),
    m("ProcessedBytes", "Sum", "Bytes", T::Either, S::Network),
    m("ProcessedPackets", "Sum", "Count", T::Either, S::Network),
    m("ConsumedLCUs", "Sum", "Count", T::Up, S::Capacity),
];

/// AWS/NetworkELB, per target group (LoadBalancer, TargetGroup).
#[rustfmt::skip]
static NLB_TARGET_GROUP: &[MetricSpec] = &[
    m("UnHealthyHostCount", "Maximum", "Count", T::Up, S::Health),
    m("HealthyHostCount", "Minimum", "Count", T::Down, S::Health),
];

/// AWS/ELB (Classic Load Balancer), per load balancer (LoadBalancerName).
#[rustfmt::skip]
static ELB_CLASSIC: &[MetricSpec] = &[
    m("UnHealthyHostCount", "Maximum", "Count", T::Up, S::Health),
    m("HealthyHostCount", "Minimum", "Count", T::Down, S::Health),
    m("HTTPCode_ELB_5XX", "Sum", "Count", T::Up, S::Errors),
    m("HTTPCode_Backend_5XX", "Sum", "Count", T::Up, S::Errors),
    m("Latency", "Average", "Seconds", T::Up, S::Latency),
    m("RequestCount", "Sum", "Count", T::Up, S::Traffic),
    m("BackendConnectionErrors", "Sum", "Count", T::Up, S::Errors),
    m("SurgeQueueLength", "Maximum", "Count", T::Up, S::Backlog),
    m("SpilloverCount", "Sum", "Count", T::Up, S::Capacity),
    m("HTTPCode_ELB_4XX", "Sum", "Count", T::Up, S::ClientErrors),
    m("HTTPCode_Backend_4XX", "Sum", "Count", T::Up, S::ClientErrors),
    m("EstimatedALBActiveConnectionCount", "Average", "Count", T::Either, S::Connections),
];

// ---------------------------------------------------------------------------------------------
// AWS Lambda
// ---------------------------------------------------------------------------------------------

const DOC_LAMBDA: &str =
    "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html";

/// AWS/Lambda, per function (FunctionName), aggregated over versions and aliases.
#[rustfmt::skip]
static LAMBDA_FUNCTION: &[MetricSpec] = &[
    m("Errors", "Sum", "Count", T::Up, S::Errors),
    m("Throttles", "Sum", "Count", T::Up, S::Throttles),
    m("Duration", "Average", "Milliseconds", T::Up, S::Latency),
    m("Invocations", "Sum", "Count", T::Up, S::Traffic),
    m("ConcurrentExecutions", "Maximum", "Count", T::Up, S::Concurrency),
    // Stream event sources (Kinesis, DynamoDB Streams).
    m("IteratorAge", "Maximum", "Milliseconds", T::Up, S::Latency),
    // Asynchronous invocation.
    m("AsyncEventAge", "Maximum", "Milliseconds", T::Up, S::Backlog),
    m("AsyncEventsDropped", "Sum", "Count", T::Up, S::Errors),
    m("DeadLetterErrors", "Sum", "Count", T::Up, S::Errors),
    m("DestinationDeliveryFailures", "Sum", "Count", T::Up, S::Errors),
    m("RecursiveInvocationsDropped", "Sum", "Count", T::Up, S::Errors),
    m("AsyncEventsReceived", "Sum", "Count", T::Up, S::Traffic),
    // Kafka event sources (Amazon MSK, self-managed Apache Kafka).
    m("OffsetLag", "Maximum", "Count", T::Up, S::Backlog),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [LAM] https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
    // [LAM] performance metrics: "The cumulative amount of time that the runtime spends running
    // code for extensions after the function code has completed." The page says to "view these
    // metrics with the `Average` or `Max` statistic". The page states milliseconds only for
    // `Duration` ("the amount of time in milliseconds"), so Milliseconds here is inferred from
    // that.
    m("PostRuntimeExtensionsDuration", "Average", "Milliseconds", T::Up, S::Latency),
];

/// AWS/Lambda, per version or alias (FunctionName, Resource), where provisioned concurrency is
/// reported.
#[rustfmt::skip]
static LAMBDA_FUNCTION_RESOURCE: &[MetricSpec] = &[
    m("Errors", "Sum", "Count", T::Up, S::Errors),
    m("Throttles", "Sum", "Count", T::Up, S::Throttles),
    m("Duration", "Average", "Milliseconds", T::Up, S::Latency),
    m("Invocations", "Sum", "Count", T::Up, S::Traffic),
    m("ConcurrentExecutions", "Maximum", "Count", T::Up, S::Concurrency),
    m("ProvisionedConcurrencySpilloverInvocations", "Sum", "Count", T::Up, S::Capacity),
    m("ProvisionedConcurrencyUtilization", "Maximum", "None", T::Up, S::Capacity),
    m("ProvisionedConcurrentExecutions", "Maximum", "Count", T::Up, S::Concurrency),
    m("ProvisionedConcurrencyInvocations", "Sum", "Count", T::Up, S::Traffic),
    m("IteratorAge", "Maximum", "Milliseconds", T::Up, S::Latency),
    m("AsyncEventAge", "Maximum", "Milliseconds", T::Up, S::Backlog),
    m("AsyncEventsDropped", "Sum", "Count", T::Up, S::Errors),
    m("DeadLetterErrors", "Sum", "Count", T::Up, S::Errors),
    m("DestinationDeliveryFailures", "Sum", "Count", T::Up, S::Errors),
];

/// AWS/Lambda for the whole account and Region (no dimensions).
#[rustfmt::skip]
static LAMBDA_ACCOUNT: &[MetricSpec] = &[
    m("ConcurrentExecutions", "Maximum", "Count", T::Up, S::Concurrency),
    m("ClaimedAccountConcurrency", "Maximum", "Count", T::Up, S::Concurrency),
    m("UnreservedConcurrentExecutions", "Maximum", "Count", T::Up, S::Concurrency),
    m("Throttles", "Sum", "Count", T::Up, S::Throttles),
    m("Errors", "Sum", "Count", T::Up, S::Errors),
    m("Invocations", "Sum", "Count", T::Up, S::Traffic),
    m("Duration", "Average", "Milliseconds", T::Up, S::Latency),
];

// ---------------------------------------------------------------------------------------------
// Amazon DynamoDB
// ---------------------------------------------------------------------------------------------

const DOC_DYNAMODB: &str =
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html";

/// AWS/DynamoDB, per table (TableName).
#[rustfmt::skip]
static DYNAMODB_TABLE: &[MetricSpec] = &[
    m("ReadThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("WriteThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("ConsumedReadCapacityUnits", "Sum", "Count", T::Up, S::ConsumedCapacity),
    m("ConsumedWriteCapacityUnits", "Sum", "Count", T::Up, S::ConsumedCapacity),
    m("ProvisionedReadCapacityUnits", "Average", "Count", T::Either, S::Capacity),
    m("ProvisionedWriteCapacityUnits", "Average", "Count", T::Either, S::Capacity),
    // Why requests were throttled: hot partition, provisioned capacity, on-demand maximum,
    // account limit.
    m("ReadKeyRangeThroughputThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("WriteKeyRangeThroughputThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("ReadProvisionedThroughputThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("WriteProvisionedThroughputThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("ReadMaxOnDemandThroughputThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("WriteMaxOnDemandThroughputThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("ReadAccountLimitThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("WriteAccountLimitThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("TransactionConflict", "Sum", "Count", T::Up, S::Errors),
    m("ConditionalCheckFailedRequests", "Sum", "Count", T::Up, S::ClientErrors),
    m("TimeToLiveDeletedItemCount", "Sum", "Count", T::Either, S::Other),
];

/// AWS/DynamoDB, per table and API operation (TableName, Operation).
#[rustfmt::skip]
static DYNAMODB_TABLE_OPERATION: &[MetricSpec] = &[
    m("SystemErrors", "Sum", "Count", T::Up, S::Errors),
    m("SuccessfulRequestLatency", "Average", "Milliseconds", T::Up, S::Latency),
    m("ThrottledRequests", "Sum", "Count", T::Up, S::Throttles),
    m("ReturnedItemCount", "Average", "Count", T::Either, S::Other),
];

/// AWS/DynamoDB, per global secondary index (TableName, GlobalSecondaryIndexName).
#[rustfmt::skip]
static DYNAMODB_GSI: &[MetricSpec] = &[
    m("ReadThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("WriteThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("ConsumedReadCapacityUnits", "Sum", "Count", T::Up, S::ConsumedCapacity),
    m("ConsumedWriteCapacityUnits", "Sum", "Count", T::Up, S::ConsumedCapacity),
    m("ProvisionedReadCapacityUnits", "Average", "Count", T::Either, S::Capacity),
    m("ProvisionedWriteCapacityUnits", "Average", "Count", T::Either, S::Capacity),
    m("OnlineIndexThrottleEvents", "Sum", "Count", T::Up, S::Throttles),
    m("OnlineIndexPercentageProgress", "Average", "Count", T::Either, S::Other),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [DDB] https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html
    // DYNAMODB_GSI — [DDB] "The number of write capacity units consumed when adding a new global
    // secondary index ... monitor this statistic while the index is being built to determine
    // whether the write capacity of the index is underprovisioned." Count; Sum is a valid
    // statistic.
    m("OnlineIndexConsumedWriteCapacity", "Sum", "Count", T::Up, S::ConsumedCapacity),
];

/// AWS/DynamoDB for the whole account and Region (no dimensions).
#[rustfmt::skip]
static DYNAMODB_ACCOUNT: &[MetricSpec] = &[
    // HTTP 400s across the account and Region (throttles and failed conditions excluded).
    m("UserErrors", "Sum", "Count", T::Up, S::ClientErrors),
    m("AccountProvisionedReadCapacityUtilization", "Maximum", "Percent", T::Up, S::Capacity),
    m("AccountProvisionedWriteCapacityUtilization", "Maximum", "Percent", T::Up, S::Capacity),
    m("MaxProvisionedTableReadCapacityUtilization", "Maximum", "Percent", T::Up, S::Capacity),
    m("MaxProvisionedTableWriteCapacityUtilization", "Maximum", "Percent", T::Up, S::Capacity),
];

// ---------------------------------------------------------------------------------------------
// Messaging and streaming: SQS, SNS, Kinesis, EventBridge, Step Functions
// ---------------------------------------------------------------------------------------------

/// AWS/SQS, per queue (QueueName).
#[rustfmt::skip]
static SQS_QUEUE: &[MetricSpec] = &[
    m("ApproximateAgeOfOldestMessage", "Maximum", "Seconds", T::Up, S::Backlog),
    m("ApproximateNumberOfMessagesVisible", "Maximum", "Count", T::Up, S::Backlog),
    m("ApproximateNumberOfMessagesNotVisible", "Maximum", "Count", T::Up, S::Backlog),
    m("ApproximateNumberOfMessagesDelayed", "Maximum", "Count", T::Up, S::Backlog),
    // AWS recommends alarming on this falling (producer stopped); a surge builds backlog.
    m("NumberOfMessagesSent", "Sum", "Count", T::Either, S::Traffic),
    // Consumers: a fall means messages are no longer being processed.
    m("NumberOfMessagesReceived", "Sum", "Count", T::Down, S::Traffic),
    m("NumberOfMessagesDeleted", "Sum", "Count", T::Down, S::Traffic),
    m("NumberOfEmptyReceives", "Sum", "Count", T::Either, S::Other),
    m("SentMessageSize", "Average", "Bytes", T::Either, S::Other),
];

/// AWS/SNS, per topic (TopicName).
#[rustfmt::skip]
static SNS_TOPIC: &[MetricSpec] = &[
    m("NumberOfNotificationsFailed", "Sum", "Count", T::Up, S::Errors),
    m("NumberOfMessagesPublished", "Sum", "Count", T::Up, S::Traffic),
    m("NumberOfNotificationsDelivered", "Sum", "Count", T::Down, S::Traffic),
    m("NumberOfNotificationsRedrivenToDlq", "Sum", "Count", T::Up, S::Errors),
    m("NumberOfNotificationsFailedToRedriveToDlq", "Sum", "Count", T::Up, S::Errors),
    m("NumberOfNotificationsFilteredOut", "Sum", "Count", T::Either, S::Other),
    m("NumberOfNotificationsFilteredOut-InvalidAttributes", "Sum", "Count", T::Up, S::ClientErrors),
    m("NumberOfNotificationsFilteredOut-NoMessageAttributes", "Sum", "Count", T::Up, S::ClientErrors),
    m("PublishSize", "Average", "Bytes", T::Either, S::Other),
];

/// AWS/Kinesis, per data stream (StreamName).
#[rustfmt::skip]
static KINESIS_STREAM: &[MetricSpec] = &[
    m("GetRecords.IteratorAgeMilliseconds", "Maximum", "Milliseconds", T::Up, S::Latency),
    m("WriteProvisionedThroughputExceeded", "Sum", "Count", T::Up, S::Throttles),
    m("ReadProvisionedThroughputExceeded", "Sum", "Count", T::Up, S::Throttles),
    m("PutRecords.ThrottledRecords", "Sum", "Count", T::Up, S::Throttles),
    m("PutRecords.FailedRecords", "Sum", "Count", T::Up, S::Errors),
    // Average of the Success metrics is the share of successful calls.
    m("PutRecord.Success", "Average", "Count", T::Down, S::Errors),
    m("PutRecords.Success", "Average", "Count", T::Down, S::Errors),
    m("GetRecords.Success", "Average", "Count", T::Down, S::Errors),
    m("GetRecords.Latency", "Average", "Milliseconds", T::Up, S::Latency),
    m("PutRecord.Latency", "Average", "Milliseconds", T::Up, S::Latency),
    m("PutRecords.Latency", "Average", "Milliseconds", T::Up, S::Latency),
    m("IncomingRecords", "Sum", "Count", T::Up, S::Traffic),
    m("IncomingBytes", "Sum", "Bytes", T::Up, S::Traffic),
    m("GetRecords.Records", "Sum", "Count", T::Either, S::Traffic),
    m("GetRecords.Bytes", "Sum", "Bytes", T::Either, S::Traffic),
];

const DOC_EVENTBRIDGE: &str =
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html";

/// AWS/Events, per rule: RuleName alone for the default event bus, EventBusName and RuleName for
/// a custom bus.
#[rustfmt::skip]
static EVENTBRIDGE_RULE: &[MetricSpec] = &[
    m("FailedInvocations", "Sum", "Count", T::Up, S::Errors),
    m("InvocationsFailedToBeSentToDlq", "Sum", "Count", T::Up, S::Errors),
    m("DeadLetterInvocations", "Sum", "Count", T::Up, S::Errors),
    m("ThrottledRules", "Sum", "Count", T::Up, S::Throttles),
    m("InvocationsSentToDlq", "Sum", "Count", T::Up, S::Errors),
    m("RetryInvocationAttempts", "Sum", "Count", T::Up, S::Errors),
    m("Invocations", "Sum", "Count", T::Up, S::Traffic),
    m("TriggeredRules", "Sum", "Count", T::Up, S::Traffic),
    m("MatchedEvents", "Sum", "Count", T::Up, S::Traffic),
    m("InvocationAttempts", "Sum", "Count", T::Up, S::Traffic),
];

/// AWS/States, per state machine (StateMachineArn).
#[rustfmt::skip]
static STEPFUNCTIONS_STATE_MACHINE: &[MetricSpec] = &[
    m("ExecutionsFailed", "Sum", "Count", T::Up, S::Errors),
    m("ExecutionsTimedOut", "Sum", "Count", T::Up, S::Errors),
    m("ExecutionThrottled", "Sum", "Count", T::Up, S::Throttles),
    m("ExecutionsAborted", "Sum", "Count", T::Up, S::Errors),
    m("ExecutionTime", "Average", "Milliseconds", T::Up, S::Latency),
    m("ExecutionsStarted", "Sum", "Count", T::Up, S::Traffic),
    m("ExecutionsSucceeded", "Sum", "Count", T::Down, S::Traffic),
    m("ExecutionsRedriven", "Sum", "Count", T::Either, S::Other),
];

// ---------------------------------------------------------------------------------------------
// Amazon API Gateway
// ---------------------------------------------------------------------------------------------

const DOC_APIGW_REST: &str =
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html";
const DOC_APIGW_HTTP: &str =
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html";

/// AWS/ApiGateway REST APIs, per API (ApiName) and per stage (ApiName, Stage).
#[rustfmt::skip]
static APIGW_REST: &[MetricSpec] = &[
    m("5XXError", "Sum", "Count", T::Up, S::Errors),
    m("Latency", "Average", "Milliseconds", T::Up, S::Latency),
    m("IntegrationLatency", "Average", "Milliseconds", T::Up, S::Latency),
    // AWS documents the SampleCount statistic as this metric's meaning; each request is a
    // datapoint of value 1, so Sum gives the same number, and it also holds for counts put as
    // aggregated values (statistic sets, emulators).
    m("Count", "Sum", "Count", T::Up, S::Traffic),
    m("4XXError", "Sum", "Count", T::Up, S::ClientErrors),
    m("CacheMissCount", "Sum", "Count", T::Up, S::Other),
    m("CacheHitCount", "Sum", "Count", T::Down, S::Other),
];

/// AWS/ApiGateway HTTP APIs, per API (ApiId) and per stage (ApiId, Stage).
#[rustfmt::skip]
static APIGW_HTTP: &[MetricSpec] = &[
    m("5xx", "Sum", "Count", T::Up, S::Errors),
    m("Latency", "Average", "Milliseconds", T::Up, S::Latency),
    m("IntegrationLatency", "Average", "Milliseconds", T::Up, S::Latency),
    m("Count", "Sum", "Count", T::Up, S::Traffic),
    m("4xx", "Sum", "Count", T::Up, S::ClientErrors),
    m("DataProcessed", "Sum", "Bytes", T::Either, S::Network),
];

// ---------------------------------------------------------------------------------------------
// Amazon ElastiCache
// ---------------------------------------------------------------------------------------------

const DOC_ELASTICACHE: &str =
    "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.html";

/// AWS/ElastiCache, per node (CacheClusterId, CacheNodeId) and per cache cluster
/// (CacheClusterId): host-level metrics (CacheMetrics.HostLevel) then Valkey/Redis OSS engine
/// metrics (CacheMetrics.Redis). Memcached publishes the host-level ones and the shared engine
/// names (CurrConnections, Evictions, CurrItems…).
#[rustfmt::skip]
static ELASTICACHE_NODE: &[MetricSpec] = &[
    m("EngineCPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("CPUUtilization", "Average", "Percent", T::Up, S::Cpu),
    m("DatabaseMemoryUsagePercentage", "Maximum", "Percent", T::Up, S::Memory),
    m("FreeableMemory", "Minimum", "Bytes", T::Down, S::FreeMemory),
    m("SwapUsage", "Maximum", "Bytes", T::Up, S::Memory),
    // Evictions read as memory pressure.
    m("Evictions", "Sum", "Count", T::Up, S::Memory),
    m("CurrConnections", "Maximum", "Count", T::Up, S::Connections),
    m("NewConnections", "Sum", "Count", T::Up, S::Connections),
    m("ReplicationLag", "Maximum", "Seconds", T::Up, S::Replication),
    // Packets shaped because the node exceeded an EC2 network allowance.
    m("NetworkBandwidthInAllowanceExceeded", "Sum", "Count", T::Up, S::Throttles),
    m("NetworkBandwidthOutAllowanceExceeded", "Sum", "Count", T::Up, S::Throttles),
    m("NetworkConntrackAllowanceExceeded", "Sum", "Count", T::Up, S::Throttles),
    m("NetworkPacketsPerSecondAllowanceExceeded", "Sum", "Count", T::Up, S::Throttles),
    m("CacheHitRate", "Average", "Percent", T::Down, S::Other),
    m("CacheMisses", "Sum", "Count", T::Up, S::Other),
    m("CacheHits", "Sum", "Count", T::Either, S::Other),
    m("CurrItems", "Average", "Count", T::Either, S::Other),
    // 1 on the primary, 0 on a replica: a change means a failover.
    m("IsMaster", "Maximum", "Count", T::Either, S::Health),
    m("CPUCreditBalance", "Minimum", "Count", T::Down, S::CpuCredits),
    m("NetworkBytesIn", "Sum", "Bytes", T::Either, S::Network),
    m("NetworkBytesOut", "Sum", "Bytes", T::Either, S::Network),
    // Added after an audit against the AWS metric pages (statistic "convention": the page
    // names none, so the file's convention for gauges, balances and counts is used):
    // [ECH] https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.HostLevel.html
    // [ECM] https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Memcached.html
    // [ECR] https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html
    // [ECH] "The number of packets dropped because the PPS of the traffic to local proxy services
    // exceeded the maximum for the network interface. This impacts traffic to the DNS service, the
    // Instance Metadata Service, and the Amazon Time Sync Service." Count.
    m("NetworkLinkLocalAllowanceExceeded", "Sum", "Count", T::Up, S::Throttles),
    // [ECR] "Indicates whether ElastiCache ... is actively managing traffic ... Any data points of
    // 1 may indicate that the node is underscaled." Unit "Boolean". (stat: convention)
    m("TrafficManagementActive", "Maximum", "None", T::Up, S::Throttles),
    // [ECR] "Latency of successful read requests." Microseconds. Valid statistics include Average
    // and any percentile from p0 to p100.
    m("SuccessfulReadRequestLatency", "Average", "Microseconds", T::Up, S::Latency),
    // [ECR] "Latency of successful write requests." Microseconds.
    m("SuccessfulWriteRequestLatency", "Average", "Microseconds", T::Up, S::Latency),
    // [ECR] "The total number of failed commands during the specified time period." Count; valid
    // statistics Average, Sum, Min, Max.
    m("ErrorCount", "Sum", "Count", T::Up, S::Errors),
    // [ECR] "Percentage of the memory for the cluster that is in use, excluding memory used for
    // overhead and COB." Percent. This is the eviction-relevant figure. (stat: convention)
    m("DatabaseMemoryUsageCountedForEvictPercentage", "Maximum", "Percent", T::Up, S::Memory),
    // [ECR] "Percentage of the total data capacity for the cluster that is in use." Percent. It
    // includes SSD on data-tiered nodes. (stat: convention)
    m("DatabaseCapacityUsagePercentage", "Maximum", "Percent", T::Up, S::Memory),
    // [ECR] "returns 1 whenever a background save (forked or forkless) is in progress ... you can
    // diagnose whether or not degraded performance was caused by a background save process." Unit
    // "Boolean". (stat: convention)
    m("SaveInProgress", "Maximum", "None", T::Up, S::Other),
    // [ECR] "The total number of failed attempts to authenticate ... We suggest setting an alarm on
    // this". Count. (stat: convention)
    m("AuthenticationFailures", "Sum", "Count", T::Up, S::ClientErrors),
    // [ECR] "The total number of throttled IAM-authenticated Valkey or Redis OSS AUTH or HELLO
    // requests." Count. (stat: convention)
    m("IamAuthenticationThrottling", "Sum", "Count", T::Up, S::Throttles),
    // [ECR] "the lag between the secondary Region's primary node and the primary Region's primary
    // node." Seconds (Global Datastore). (stat: convention)
    m("GlobalDatastoreReplicationLag", "Maximum", "Seconds", T::Up, S::Replication),
    // [ECR] "Indicates the efficiency in the allocation of memory ... The recommended value is to
    // have fragmentation above 1.0." Unit "Number". Both too low and too high are bad. (stat:
    // convention)
    m("MemoryFragmentationRatio", "Average", "None", T::Either, S::Memory),
    // [ECR] "The total number of read-only type commands." Count. The kind has no Traffic row
    // today.
    m("GetTypeCmds", "Sum", "Count", T::Up, S::Traffic),
    // [ECR] "The total number of write types of commands." Count.
    m("SetTypeCmds", "Sum", "Count", T::Up, S::Traffic),
    // [ECM] Memcached: "The number of get requests the cache has received where the key requested
    // was not found." Count. CacheMisses, CacheHits and CacheHitRate are Valkey/Redis-only.
    m("GetMisses", "Sum", "Count", T::Up, S::Other),
    // [ECM] Memcached: "The number of get requests the cache has received where the key requested
    // was found." Count.
    m("GetHits", "Sum", "Count", T::Either, S::Other),
    // [ECM] Memcached: "The amount of memory not used by data." Bytes. AWS warns "You may
    // experience evictions even though you still have some unused memory". (stat: convention)
    m("UnusedMemory", "Minimum", "Bytes", T::Down, S::FreeMemory),
];

// ---------------------------------------------------------------------------------------------
// Networking: NAT gateway, Route 53 health checks
// ---------------------------------------------------------------------------------------------

/// AWS/NATGateway, per NAT gateway (NatGatewayId).
#[rustfmt::skip]
static NAT_GATEWAY: &[MetricSpec] = &[
    m("ErrorPortAllocation", "Sum", "Count", T::Up, S::Capacity),
    m("PacketsDropCount", "Sum", "Count", T::Up, S::Errors),
    m("IdleTimeoutCount", "Sum", "Count", T::Up, S::Connections),
    m("ActiveConnectionCount", "Maximum", "Count", T::Either, S::Connections),
    m("ConnectionAttemptCount", "Sum", "Count", T::Either, S::Connections),
    m("ConnectionEstablishedCount", "Sum", "Count", T::Either, S::Connections),
    m("BytesOutToDestination", "Sum", "Bytes", T::Either, S::Network),
    m("BytesInFromDestination", "Sum", "Bytes", T::Either, S::Network),
    m("BytesInFromSource", "Sum", "Bytes", T::Either, S::Network),
    m("BytesOutToSource", "Sum", "Bytes", T::Either, S::Network),
    m("PacketsOutToDestination", "Sum", "Count", T::Either, S::Network),
    m("PacketsInFromDestination", "Sum", "Count", T::Either, S::Network),
];

/// AWS/Route53, per health check (HealthCheckId). Published in us-east-1 only.
#[rustfmt::skip]
static ROUTE53_HEALTH_CHECK: &[MetricSpec] = &[
    // 1 healthy, 0 unhealthy.
    m("HealthCheckStatus", "Minimum", "None", T::Down, S::Health),
    m("HealthCheckPercentageHealthy", "Average", "Percent", T::Down, S::Health),
    // Calculated health checks only.
    m("ChildHealthCheckHealthyCount", "Minimum", "Count", T::Down, S::Health),
    m("TimeToFirstByte", "Average", "Milliseconds", T::Up, S::Latency),
    m("ConnectionTime", "Average", "Milliseconds", T::Up, S::Latency),
    m("SSLHandshakeTime", "Average", "Milliseconds", T::Up, S::Latency),
];

// ---------------------------------------------------------------------------------------------
// Amazon EC2 Auto Scaling
// ---------------------------------------------------------------------------------------------

/// AWS/AutoScaling, per group (AutoScalingGroupName). Published only when group metrics
/// collection is enabled on the group.
#[rustfmt::skip]
static AUTOSCALING_GROUP: &[MetricSpec] = &[
    m("GroupInServiceInstances", "Minimum", "None", T::Down, S::Capacity),
    m("GroupDesiredCapacity", "Maximum", "None", T::Either, S::Capacity),
    m("GroupPendingInstances", "Maximum", "None", T::Up, S::Capacity),
    m("GroupTerminatingInstances", "Maximum", "None", T::Up, S::Capacity),
    m("GroupInServiceCapacity", "Minimum", "None", T::Down, S::Capacity),
    m("GroupTotalInstances", "Average", "None", T::Either, S::Capacity),
    m("GroupStandbyInstances", "Maximum", "None", T::Either, S::Capacity),
    m("GroupMaxSize", "Maximum", "None", T::Either, S::Capacity),
    m("GroupMinSize", "Minimum", "None", T::Either, S::Capacity),
    m("GroupPendingCapacity", "Maximum", "None", T::Up, S::Capacity),
    m("GroupTotalCapacity", "Average", "None", T::Either, S::Capacity),
];

// ---------------------------------------------------------------------------------------------
// Amazon EFS
// ---------------------------------------------------------------------------------------------

/// AWS/EFS, per file system (FileSystemId).
#[rustfmt::skip]
static EFS_FILE_SYSTEM: &[MetricSpec] = &[
    m("BurstCreditBalance", "Minimum", "Bytes", T::Down, S::BurstBalance),
    // General Purpose performance mode.
    m("PercentIOLimit", "Maximum", "Percent", T::Up, S::Iops),
    m("PermittedThroughput", "Minimum", "Bytes/Second", T::Down, S::Capacity),
    m("ClientConnections", "Sum", "Count", T::Either, S::Connections),
    m("MeteredIOBytes", "Sum", "Bytes", T::Up, S::Iops),
    m("TotalIOBytes", "Sum", "Bytes", T::Up, S::Iops),
    m("DataReadIOBytes", "Sum", "Bytes", T::Up, S::Iops),
    m("DataWriteIOBytes", "Sum", "Bytes", T::Up, S::Iops),
    m("MetadataIOBytes", "Sum", "Bytes", T::Up, S::Iops),
];

// ---------------------------------------------------------------------------------------------
// CloudWatch agent (namespace CWAgent)
// ---------------------------------------------------------------------------------------------
//
// The agent's namespace and dimensions are configurable. The kinds below assume
// `append_dimensions` of just InstanceId; the configuration wizard also appends ImageId,
// InstanceType and AutoScalingGroupName, in which case `kind_of` finds no kind but `spec` still
// classifies the metric by name through its namespace fallback. Disk metrics carry the plugin's
// default path, device and fstype dimensions; per-CPU metrics carry `cpu` ("cpu-total" when
// `totalcpu` is on).

const DOC_CWAGENT: &str =
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/metrics-collected-by-CloudWatch-agent.html";

/// CWAgent, per instance (InstanceId): memory, swap and processes (Linux).
#[rustfmt::skip]
static CWAGENT_INSTANCE: &[MetricSpec] = &[
    m("mem_used_percent", "Maximum", "Percent", T::Up, S::Memory),
    m("swap_used_percent", "Maximum", "Percent", T::Up, S::Memory),
    m("mem_available_percent", "Minimum", "Percent", T::Down, S::FreeMemory),
    m("mem_available", "Minimum", "Bytes", T::Down, S::FreeMemory),
    m("processes_blocked", "Maximum", "None", T::Up, S::DiskLatency),
    m("processes_zombies", "Maximum", "None", T::Up, S::Other),
    m("processes_total", "Maximum", "None", T::Either, S::Other),
    m("netstat_tcp_established", "Maximum", "None", T::Either, S::Connections),
    m("netstat_tcp_time_wait", "Maximum", "None", T::Up, S::Connections),
];

/// CWAgent, per instance and CPU (InstanceId, cpu).
#[rustfmt::skip]
static CWAGENT_INSTANCE_CPU: &[MetricSpec] = &[
    m("cpu_usage_active", "Average", "Percent", T::Up, S::Cpu),
    m("cpu_usage_iowait", "Average", "Percent", T::Up, S::DiskLatency),
    m("cpu_usage_user", "Average", "Percent", T::Up, S::Cpu),
    m("cpu_usage_system", "Average", "Percent", T::Up, S::Cpu),
    m("cpu_usage_steal", "Average", "Percent", T::Up, S::Cpu),
    m("cpu_usage_idle", "Minimum", "Percent", T::Down, S::Cpu),
];

/// CWAgent, per file system (InstanceId, path, device, fstype).
#[rustfmt::skip]
static CWAGENT_INSTANCE_DISK: &[MetricSpec] = &[
    m("disk_used_percent", "Maximum", "Percent", T::Up, S::Storage),
    m("disk_inodes_free", "Minimum", "Count", T::Down, S::Storage),
    m("disk_free", "Minimum", "Bytes", T::Down, S::Storage),
    m("disk_used", "Maximum", "Bytes", T::Up, S::Storage),
];

/// CWAgent on Windows, Memory performance object (InstanceId, objectname).
#[rustfmt::skip]
static CWAGENT_WINDOWS_MEMORY: &[MetricSpec] = &[
    m("Memory % Committed Bytes In Use", "Maximum", "Percent", T::Up, S::Memory),
    m("Memory Available Bytes", "Minimum", "Bytes", T::Down, S::FreeMemory),
];

/// CWAgent on Windows, LogicalDisk performance object (InstanceId, instance, objectname).
#[rustfmt::skip]
static CWAGENT_WINDOWS_DISK: &[MetricSpec] =
    &[m("LogicalDisk % Free Space", "Minimum", "Percent", T::Down, S::Storage)];

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// Every resource kind. No two kinds share a namespace and a set of dimension names.
pub static KINDS: &[ResourceKind] = &[
    ResourceKind {
        id: "ec2_instance",
        namespace: "AWS/EC2",
        dimensions: &["InstanceId"],
        doc: DOC_EC2,
        metrics: EC2_INSTANCE,
    },
    ResourceKind {
        id: "ec2_autoscaling_group",
        namespace: "AWS/EC2",
        dimensions: &["AutoScalingGroupName"],
        doc: DOC_EC2,
        metrics: EC2_ASG_AGGREGATE,
    },
    ResourceKind {
        id: "ebs_volume",
        namespace: "AWS/EBS",
        dimensions: &["VolumeId"],
        doc: "https://docs.aws.amazon.com/ebs/latest/userguide/using_cloudwatch_ebs.html",
        metrics: EBS_VOLUME,
    },
    ResourceKind {
        id: "ecs_service",
        namespace: "AWS/ECS",
        dimensions: &["ClusterName", "ServiceName"],
        doc: DOC_ECS,
        metrics: ECS_SERVICE,
    },
    ResourceKind {
        id: "ecs_cluster",
        namespace: "AWS/ECS",
        dimensions: &["ClusterName"],
        doc: DOC_ECS,
        metrics: ECS_CLUSTER,
    },
    ResourceKind {
        id: "container_insights_service",
        namespace: "ECS/ContainerInsights",
        dimensions: &["ClusterName", "ServiceName"],
        doc: DOC_CONTAINER_INSIGHTS_ECS,
        metrics: CONTAINER_INSIGHTS_SERVICE,
    },
    ResourceKind {
        id: "container_insights_cluster",
        namespace: "ECS/ContainerInsights",
        dimensions: &["ClusterName"],
        doc: DOC_CONTAINER_INSIGHTS_ECS,
        metrics: CONTAINER_INSIGHTS_CLUSTER,
    },
    ResourceKind {
        id: "rds_instance",
        namespace: "AWS/RDS",
        dimensions: &["DBInstanceIdentifier"],
        doc: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html",
        metrics: RDS_INSTANCE,
    },
    ResourceKind {
        id: "rds_cluster",
        namespace: "AWS/RDS",
        dimensions: &["DBClusterIdentifier"],
        doc: "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html",
        metrics: AURORA_CLUSTER,
    },
    ResourceKind {
        id: "rds_cluster_role",
        namespace: "AWS/RDS",
        dimensions: &["DBClusterIdentifier", "Role"],
        doc: "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html",
        metrics: AURORA_CLUSTER,
    },
    ResourceKind {
        id: "alb",
        namespace: "AWS/ApplicationELB",
        dimensions: &["LoadBalancer"],
        doc: DOC_ALB,
        metrics: ALB,
    },
    ResourceKind {
        id: "alb_target_group",
        namespace: "AWS/ApplicationELB",
        dimensions: &["LoadBalancer", "TargetGroup"],
        doc: DOC_ALB,
        metrics: ALB_TARGET_GROUP,
    },
    ResourceKind {
        id: "nlb",
        namespace: "AWS/NetworkELB",
        dimensions: &["LoadBalancer"],
        doc: DOC_NLB,
        metrics: NLB,
    },
    ResourceKind {
        id: "nlb_target_group",
        namespace: "AWS/NetworkELB",
        dimensions: &["LoadBalancer", "TargetGroup"],
        doc: DOC_NLB,
        metrics: NLB_TARGET_GROUP,
    },
    ResourceKind {
        id: "elb_classic",
        namespace: "AWS/ELB",
        dimensions: &["LoadBalancerName"],
        doc: "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-cloudwatch-metrics.html",
        metrics: ELB_CLASSIC,
    },
    ResourceKind {
        id: "lambda_function",
        namespace: "AWS/Lambda",
        dimensions: &["FunctionName"],
        doc: DOC_LAMBDA,
        metrics: LAMBDA_FUNCTION,
    },
    ResourceKind {
        id: "lambda_function_resource",
        namespace: "AWS/Lambda",
        dimensions: &["FunctionName", "Resource"],
        doc: DOC_LAMBDA,
        metrics: LAMBDA_FUNCTION_RESOURCE,
    },
    ResourceKind {
        id: "lambda_account",
        namespace: "AWS/Lambda",
        dimensions: &[],
        doc: DOC_LAMBDA,
        metrics: LAMBDA_ACCOUNT,
    },
    ResourceKind {
        id: "dynamodb_table",
        namespace: "AWS/DynamoDB",
        dimensions: &["TableName"],
        doc: DOC_DYNAMODB,
        metrics: DYNAMODB_TABLE,
    },
    ResourceKind {
        id: "dynamodb_table_operation",
        namespace: "AWS/DynamoDB",
        dimensions: &["TableName", "Operation"],
        doc: DOC_DYNAMODB,
        metrics: DYNAMODB_TABLE_OPERATION,
    },
    ResourceKind {
        id: "dynamodb_gsi",
        namespace: "AWS/DynamoDB",
        dimensions: &["TableName", "GlobalSecondaryIndexName"],
        doc: DOC_DYNAMODB,
        metrics: DYNAMODB_GSI,
    },
    ResourceKind {
        id: "dynamodb_account",
        namespace: "AWS/DynamoDB",
        dimensions: &[],
        doc: DOC_DYNAMODB,
        metrics: DYNAMODB_ACCOUNT,
    },
    ResourceKind {
        id: "sqs_queue",
        namespace: "AWS/SQS",
        dimensions: &["QueueName"],
        doc: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html",
        metrics: SQS_QUEUE,
    },
    ResourceKind {
        id: "sns_topic",
        namespace: "AWS/SNS",
        dimensions: &["TopicName"],
        doc: "https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html",
        metrics: SNS_TOPIC,
    },
    ResourceKind {
        id: "kinesis_stream",
        namespace: "AWS/Kinesis",
        dimensions: &["StreamName"],
        doc: "https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html",
        metrics: KINESIS_STREAM,
    },
    ResourceKind {
        id: "apigateway_rest",
        namespace: "AWS/ApiGateway",
        dimensions: &["ApiName"],
        doc: DOC_APIGW_REST,
        metrics: APIGW_REST,
    },
    ResourceKind {
        id: "apigateway_rest_stage",
        namespace: "AWS/ApiGateway",
        dimensions: &["ApiName", "Stage"],
        doc: DOC_APIGW_REST,
        metrics: APIGW_REST,
    },
    ResourceKind {
        id: "apigateway_http",
        namespace: "AWS/ApiGateway",
        dimensions: &["ApiId"],
        doc: DOC_APIGW_HTTP,
        metrics: APIGW_HTTP,
    },
    ResourceKind {
        id: "apigateway_http_stage",
        namespace: "AWS/ApiGateway",
        dimensions: &["ApiId", "Stage"],
        doc: DOC_APIGW_HTTP,
        metrics: APIGW_HTTP,
    },
    ResourceKind {
        id: "elasticache_node",
        namespace: "AWS/ElastiCache",
        dimensions: &["CacheClusterId", "CacheNodeId"],
        doc: DOC_ELASTICACHE,
        metrics: ELASTICACHE_NODE,
    },
    ResourceKind {
        id: "elasticache_cluster",
        namespace: "AWS/ElastiCache",
        dimensions: &["CacheClusterId"],
        doc: DOC_ELASTICACHE,
        metrics: ELASTICACHE_NODE,
    },
    ResourceKind {
        id: "nat_gateway",
        namespace: "AWS/NATGateway",
        dimensions: &["NatGatewayId"],
        doc: "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html",
        metrics: NAT_GATEWAY,
    },
    ResourceKind {
        id: "route53_health_check",
        namespace: "AWS/Route53",
        dimensions: &["HealthCheckId"],
        doc: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html",
        metrics: ROUTE53_HEALTH_CHECK,
    },
    ResourceKind {
        id: "autoscaling_group",
        namespace: "AWS/AutoScaling",
        dimensions: &["AutoScalingGroupName"],
        doc: "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html",
        metrics: AUTOSCALING_GROUP,
    },
    ResourceKind {
        id: "stepfunctions_state_machine",
        namespace: "AWS/States",
        dimensions: &["StateMachineArn"],
        doc: "https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html",
        metrics: STEPFUNCTIONS_STATE_MACHINE,
    },
    ResourceKind {
        id: "eventbridge_rule",
        namespace: "AWS/Events",
        dimensions: &["RuleName"],
        doc: DOC_EVENTBRIDGE,
        metrics: EVENTBRIDGE_RULE,
    },
    ResourceKind {
        id: "eventbridge_bus_rule",
        namespace: "AWS/Events",
        dimensions: &["EventBusName", "RuleName"],
        doc: DOC_EVENTBRIDGE,
        metrics: EVENTBRIDGE_RULE,
    },
    ResourceKind {
        id: "efs_file_system",
        namespace: "AWS/EFS",
        dimensions: &["FileSystemId"],
        doc: "https://docs.aws.amazon.com/efs/latest/ug/efs-metrics.html",
        metrics: EFS_FILE_SYSTEM,
    },
    ResourceKind {
        id: "cwagent_instance",
        namespace: "CWAgent",
        dimensions: &["InstanceId"],
        doc: DOC_CWAGENT,
        metrics: CWAGENT_INSTANCE,
    },
    ResourceKind {
        id: "cwagent_instance_cpu",
        namespace: "CWAgent",
        dimensions: &["InstanceId", "cpu"],
        doc: DOC_CWAGENT,
        metrics: CWAGENT_INSTANCE_CPU,
    },
    ResourceKind {
        id: "cwagent_instance_disk",
        namespace: "CWAgent",
        dimensions: &["InstanceId", "path", "device", "fstype"],
        doc: DOC_CWAGENT,
        metrics: CWAGENT_INSTANCE_DISK,
    },
    ResourceKind {
        id: "cwagent_windows_memory",
        namespace: "CWAgent",
        dimensions: &["InstanceId", "objectname"],
        doc: DOC_CWAGENT,
        metrics: CWAGENT_WINDOWS_MEMORY,
    },
    ResourceKind {
        id: "cwagent_windows_disk",
        namespace: "CWAgent",
        dimensions: &["InstanceId", "instance", "objectname"],
        doc: DOC_CWAGENT,
        metrics: CWAGENT_WINDOWS_DISK,
    },
];

/// Whether two lists of dimension names hold the same names, in any order.
fn same_names(a: &[&str], b: &[&str]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| b.iter().any(|y| y == x))
        && b.iter().all(|y| a.iter().any(|x| x == y))
}

/// The kind whose namespace matches and whose dimension names equal exactly `dimension_names`
/// (order-insensitive); None if none.
pub fn kind_of(namespace: &str, dimension_names: &[&str]) -> Option<&'static ResourceKind> {
    KINDS
        .iter()
        .find(|k| k.namespace == namespace && same_names(k.dimensions, dimension_names))
}

/// The kind with this stable id, if any.
pub fn kind_by_id(id: &str) -> Option<&'static ResourceKind> {
    KINDS.iter().find(|k| k.id == id)
}

/// The spec of a metric in a namespace: the spec from the kind with exactly these dimension
/// names if it lists the metric, else from the first kind of the namespace that lists it.
pub fn spec(
    namespace: &str,
    metric: &str,
    dimension_names: &[&str],
) -> Option<&'static MetricSpec> {
    if let Some(found) = kind_of(namespace, dimension_names).and_then(|k| k.metric(metric)) {
        return Some(found);
    }
    KINDS
        .iter()
        .filter(|k| k.namespace == namespace)
        .find_map(|k| k.metric(metric))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &[&str] = &["Sum", "Average", "Minimum", "Maximum", "SampleCount"];

    #[test]
    fn every_kind_cites_an_aws_doc_page() {
        for k in KINDS {
            assert!(
                k.doc.starts_with("https://docs.aws.amazon.com/"),
                "{}: {}",
                k.id,
                k.doc
            );
            assert!(k.doc.ends_with(".html"), "{}: {}", k.id, k.doc);
        }
    }

    #[test]
    fn kind_ids_are_unique_and_kinds_are_not_empty() {
        for (i, k) in KINDS.iter().enumerate() {
            assert!(!k.id.is_empty());
            assert!(!k.namespace.is_empty(), "{}", k.id);
            assert!(!k.metrics.is_empty(), "{}", k.id);
            for other in &KINDS[i + 1..] {
                assert_ne!(k.id, other.id);
            }
        }
    }

    #[test]
    fn no_two_kinds_share_namespace_and_dimensions() {
        for (i, k) in KINDS.iter().enumerate() {
            for other in &KINDS[i + 1..] {
                assert!(
                    !(k.namespace == other.namespace && same_names(k.dimensions, other.dimensions)),
                    "{} and {} are indistinguishable",
                    k.id,
                    other.id
                );
            }
            // No dimension name listed twice within a kind.
            for (j, d) in k.dimensions.iter().enumerate() {
                assert!(!k.dimensions[j + 1..].contains(d), "{}: {}", k.id, d);
            }
        }
    }

    #[test]
    fn no_duplicate_metric_within_a_kind() {
        for k in KINDS {
            for (i, a) in k.metrics.iter().enumerate() {
                for b in &k.metrics[i + 1..] {
                    assert_ne!(a.name, b.name, "{} lists {} twice", k.id, a.name);
                }
            }
        }
    }

    #[test]
    fn every_stat_and_unit_is_valid() {
        for k in KINDS {
            for s in k.metrics {
                assert!(!s.name.is_empty(), "{}", k.id);
                assert!(!s.unit.is_empty(), "{}: {}", k.id, s.name);
                assert!(
                    STATS.contains(&s.stat),
                    "{}: {} uses {}",
                    k.id,
                    s.name,
                    s.stat
                );
            }
        }
    }

    #[test]
    fn directions_follow_the_recommended_alarms() {
        for k in KINDS {
            for s in k.metrics {
                match s.signal {
                    Signal::FreeMemory | Signal::BurstBalance => {
                        assert_eq!(s.trouble, Trouble::Down, "{}: {}", k.id, s.name);
                    }
                    Signal::Latency
                    | Signal::Backlog
                    | Signal::Throttles
                    | Signal::Concurrency
                    | Signal::DiskLatency
                    | Signal::Replication
                    | Signal::ClientErrors
                    | Signal::ConsumedCapacity => {
                        assert_eq!(s.trouble, Trouble::Up, "{}: {}", k.id, s.name);
                    }
                    _ => {}
                }
                match s.name {
                    "HealthyHostCount"
                    | "HealthCheckStatus"
                    | "CPUCreditBalance"
                    | "FreeStorageSpace"
                    | "GroupInServiceInstances"
                    | "RunningTaskCount" => {
                        assert_eq!(s.trouble, Trouble::Down, "{}: {}", k.id, s.name);
                    }
                    "UnHealthyHostCount" | "RequestCount" | "Invocations" | "Errors"
                    | "Throttles" | "CPUUtilization" | "StatusCheckFailed" => {
                        assert_eq!(s.trouble, Trouble::Up, "{}: {}", k.id, s.name);
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn kind_of_matches_exact_dimension_sets_in_any_order() {
        assert_eq!(
            kind_of("AWS/ApplicationELB", &["TargetGroup", "LoadBalancer"]).map(|k| k.id),
            Some("alb_target_group")
        );
        assert_eq!(
            kind_of("AWS/ApplicationELB", &["LoadBalancer"]).map(|k| k.id),
            Some("alb")
        );
        assert_eq!(
            kind_of("AWS/Lambda", &[]).map(|k| k.id),
            Some("lambda_account")
        );
        assert_eq!(
            kind_of("AWS/Lambda", &["FunctionName"]).map(|k| k.id),
            Some("lambda_function")
        );
        assert_eq!(
            kind_of("AWS/DynamoDB", &["Operation", "TableName"]).map(|k| k.id),
            Some("dynamodb_table_operation")
        );
        assert_eq!(
            kind_of("CWAgent", &["fstype", "InstanceId", "device", "path"]).map(|k| k.id),
            Some("cwagent_instance_disk")
        );
        // Extra, missing or repeated dimensions do not match.
        assert!(kind_of("AWS/EC2", &["InstanceId", "ImageId"]).is_none());
        assert!(kind_of("AWS/ApplicationELB", &["TargetGroup"]).is_none());
        assert!(kind_of("AWS/EC2", &["InstanceId", "InstanceId"]).is_none());
        assert!(kind_of("AWS/Nope", &["InstanceId"]).is_none());
    }

    #[test]
    fn spec_prefers_the_exact_kind_then_falls_back_to_the_namespace() {
        let status = spec("AWS/Route53", "HealthCheckStatus", &["HealthCheckId"]);
        assert_eq!(status.map(|s| s.trouble), Some(Trouble::Down));
        assert_eq!(status.map(|s| s.signal), Some(Signal::Health));

        // Exact kind: the account-level Lambda kind.
        let unreserved = spec("AWS/Lambda", "UnreservedConcurrentExecutions", &[]);
        assert_eq!(unreserved.map(|s| s.signal), Some(Signal::Concurrency));

        // Unknown dimension set: fall back to any kind of the namespace that lists the metric.
        let freeable = spec("AWS/RDS", "FreeableMemory", &["DatabaseClass"]);
        assert_eq!(freeable.map(|s| s.trouble), Some(Trouble::Down));
        let mem = spec(
            "CWAgent",
            "mem_used_percent",
            &["InstanceId", "ImageId", "InstanceType"],
        );
        assert_eq!(mem.map(|s| s.signal), Some(Signal::Memory));

        // Exact kind wins over an earlier kind of the namespace.
        let tg_requests = spec(
            "AWS/ApplicationELB",
            "HealthyHostCount",
            &["LoadBalancer", "TargetGroup"],
        );
        assert_eq!(tg_requests.map(|s| s.stat), Some("Minimum"));

        assert!(spec("AWS/RDS", "NoSuchMetric", &["DBInstanceIdentifier"]).is_none());
        assert!(spec("AWS/Nope", "CPUUtilization", &["InstanceId"]).is_none());
    }

    #[test]
    fn kind_by_id_and_metric_lookup() {
        let sqs = kind_by_id("sqs_queue");
        assert_eq!(sqs.map(|k| k.namespace), Some("AWS/SQS"));
        let age = sqs.and_then(|k| k.metric("ApproximateAgeOfOldestMessage"));
        assert_eq!(age.map(|s| s.signal), Some(Signal::Backlog));
        assert_eq!(age.map(|s| s.unit), Some("Seconds"));
        assert!(kind_by_id("no_such_kind").is_none());
    }
}
