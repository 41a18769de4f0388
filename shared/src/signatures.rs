//! Failure signatures: a reviewed knowledge base of the error texts that runtimes, databases,
//! proxies, the Linux kernel and AWS services write when something fails, one row per text.
//!
//! Each [`Signature`] row says which failure [`Family`] a single line belongs to (a log line, an
//! ECS stopped-task reason, an ECS service event, or one EventBridge event serialised as JSON on one
//! line) and whether the line names a **cause** (it says in plain words why things fail: the kernel
//! OOM killer, `No space left on device`, `certificate has expired`, a throttling error code, too
//! many connections at the database) or only shows a **symptom** (something fails without saying
//! why: a timeout, a refused connection, a 5xx, a retry).
//!
//! # How a line is classified
//!
//! [`classify`] runs every pattern over the line in one pass ([`regex::RegexSet`]) and picks
//! **the first matching `Cause` row in table order; if no cause row matches, the first matching
//! `Symptom` row**. So order matters *within each role*: more specific rows come before generic
//! rows of the same role (the HikariCP pool timeout before the generic `timed out`, a
//! `CannotPullContainerError … not found` before the generic `CannotPullContainerError`). The
//! position of a cause row relative to symptom rows does not matter. The table is laid out as all
//! cause rows (grouped by family), then all symptom rows ordered from most to least specific.
//!
//! # Rules read this table
//!
//! Diagnosis rules ask for a line's family and role here; no rule keys on resource names, service
//! names or scenario names, and no row does either: every pattern is anchored on words the
//! software itself writes (error codes, exception class names, fixed message texts), never on
//! names chosen by an operator.
//!
//! # Adding a row
//!
//! 1. Find the exact text as the software writes it, in its documentation or its source code, and
//!    put that page's URL in `source`.
//! 2. Write a `regex` pattern anchored on the distinctive words (use `(?i)` only where the text
//!    really varies in case). Patterns must not match benign lines (`timeout=30`, `0 errors`,
//!    `/api/errors` paths): prefer exception names and whole phrases over single common words.
//! 3. Choose the role honestly: does the line itself say *why* things fail (Cause), or only *that*
//!    they fail (Symptom)? Explain in a comment where the call is not obvious.
//! 4. Put the row before any more generic row of the same role that would also match its lines.
//! 5. Give one real `example` line; the tests check the row's pattern matches it and that
//!    [`classify`] puts it in the row's family. Add benign look-alikes to the benign-line test.

use regex::{Regex, RegexSet, RegexSetBuilder};
use std::sync::LazyLock;

/// A failure family: what kind of failure a line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// The OOM killer, an exhausted heap, a container or Lambda killed for memory.
    OutOfMemory,
    /// No room to run: placement failures, insufficient instance capacity, subnet IP exhaustion,
    /// vCPU / ENI / instance quotas, file-descriptor and conntrack tables full, failed launches.
    Capacity,
    /// API or service throttling and request-rate quotas.
    Throttled,
    /// The database is saturated: too many connections, pools exhausted waiting on it, lock
    /// waits and deadlocks, statement timeouts, transaction-id wraparound.
    DbSaturated,
    /// A disk or storage volume is full.
    StorageFull,
    /// Access refused: IAM denials, disabled or pending-deletion KMS keys, expired or invalid
    /// credentials, S3 403s.
    AccessDenied,
    /// TLS certificate problems: expired, not yet valid, unknown authority, hostname mismatch,
    /// and handshakes failing over a certificate.
    CertExpired,
    /// Name resolution failures.
    Dns,
    /// The downstream did not answer: timeouts, refused or reset connections, unreachable hosts,
    /// proxy upstream errors, open circuit breakers, gateway 5xx.
    Connectivity,
    /// A bug in the code: null dereferences, type errors, panics, unhandled exceptions, segfaults.
    CodeError,
    /// A release or configuration that cannot start or is invalid: missing environment variables
    /// or config keys, images that cannot be pulled, modules not found at start, failed migrations.
    BadConfig,
    /// The host, instance or database went away: Spot interruptions, instance stop/termination,
    /// scheduled retirement, failed status checks, RDS failover/restart/shutdown, ElastiCache node
    /// replacement, a database shutting down or in recovery, kernel panics, hardware errors.
    InstanceLost,
    /// CPU exhaustion named in plain words (soft lockups, RCU stalls, CPU throttling) and the
    /// worker-timeout kills it causes.
    CpuStarved,
    /// A failure that fits no family above (an essential container exited, a generic 500).
    Other,
}

/// Whether a line names the cause or only shows a symptom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Cause,
    Symptom,
}

/// One reviewed failure signature.
pub struct Signature {
    /// Stable id: "<area>.<what>", e.g. "linux.oom_killer", "postgres.too_many_clients".
    pub id: &'static str,
    /// A Rust `regex` pattern matched against one line.
    pub pattern: &'static str,
    pub family: Family,
    pub role: Role,
    /// Where this text is documented (URL of the documentation page or the source file).
    pub source: &'static str,
    /// One real example line (as the software writes it) that this row must match.
    pub example: &'static str,
}

/// A row that names a cause.
const fn cause(
    id: &'static str,
    family: Family,
    pattern: &'static str,
    source: &'static str,
    example: &'static str,
) -> Signature {
    Signature {
        id,
        pattern,
        family,
        role: Role::Cause,
        source,
        example,
    }
}

/// A row that only shows a symptom: [`cause`] with the other role.
const fn symptom(
    id: &'static str,
    family: Family,
    pattern: &'static str,
    source: &'static str,
    example: &'static str,
) -> Signature {
    Signature {
        role: Role::Symptom,
        ..cause(id, family, pattern, source, example)
    }
}

// Frequently cited sources.
const SRC_PG_ERRCODES: &str = "https://www.postgresql.org/docs/current/errcodes-appendix.html";
const SRC_PG_POSTGRES_C: &str =
    "https://github.com/postgres/postgres/blob/master/src/backend/tcop/postgres.c";
const SRC_PG_BACKEND_STARTUP: &str =
    "https://github.com/postgres/postgres/blob/master/src/backend/tcop/backend_startup.c";
const SRC_MYSQL_SERVER_ERRORS: &str =
    "https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html";
const SRC_MYSQL_CLIENT_ERRORS: &str =
    "https://dev.mysql.com/doc/mysql-errors/8.0/en/client-error-reference.html";
const SRC_REDIS_SERVER_C: &str = "https://github.com/redis/redis/blob/unstable/src/server.c";
const SRC_NGINX_UPSTREAM: &str =
    "https://github.com/nginx/nginx/blob/master/src/http/ngx_http_upstream.c";
const SRC_LINUX_OOM: &str = "https://github.com/torvalds/linux/blob/master/mm/oom_kill.c";
const SRC_JVM_OOM: &str =
    "https://docs.oracle.com/en/java/javase/17/troubleshoot/troubleshooting-memory-leaks.html";
const SRC_GO_X509: &str = "https://github.com/golang/go/blob/master/src/crypto/x509/verify.go";
const SRC_NODE_SYSERR: &str = "https://nodejs.org/api/errors.html#common-system-errors";
const SRC_NODE_X509: &str = "https://nodejs.org/api/tls.html#x509-certificate-error-codes";
const SRC_GAI: &str = "https://man7.org/linux/man-pages/man3/getaddrinfo.3.html";
const SRC_OPENSSL_VERIFY: &str = "https://docs.openssl.org/3.0/man3/X509_STORE_CTX_get_error/";
const SRC_SDK_THROTTLE: &str = "https://github.com/aws/aws-sdk-js-v3/blob/main/packages/service-error-classification/src/constants.ts";
const SRC_ECS_STOPPED: &str =
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html";
const SRC_ECS_SERVICE_EVENTS: &str =
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages-list.html";
const SRC_ECS_EB_SERVICE: &str =
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html";
const SRC_EC2_ERRORS: &str =
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html";
const SRC_RDS_EVENTS: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html";
const SRC_STS_ERRORS: &str =
    "https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html";
const SRC_KMS_KEY_STATE: &str =
    "https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html";
const SRC_LAMBDA_INVOKE: &str = "https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html";
const SRC_LAMBDA_TROUBLESHOOT: &str =
    "https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html";

/// The table. Cause rows first (grouped by family), then symptom rows from most to least
/// specific. See the module documentation for how rows are chosen and how to add one.
pub static SIGNATURES: &[Signature] = &[
    // =====================================================================================
    // CAUSE rows
    // =====================================================================================

    // ---- OutOfMemory -------------------------------------------------------------------
    cause(
        "ecs.container_oom",
        Family::OutOfMemory,
        r"OutOfMemoryError: Container killed due to memory usage",
        "https://repost.aws/knowledge-center/ecs-resolve-outofmemory-errors",
        "OutOfMemoryError: Container killed due to memory usage",
    ),
    cause(
        "lambda.runtime_out_of_memory",
        Family::OutOfMemory,
        r"\bRuntime\.OutOfMemory\b",
        SRC_LAMBDA_TROUBLESHOOT,
        r#"{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: 5b4c2f6e-1d2a-4c1e-9f0a-0c8a3b1d2e4f Error: Runtime exited with error: signal: killed"}"#,
    ),
    cause(
        "linux.oom_killer",
        Family::OutOfMemory,
        r"\bOut of memory: Kill(?:ed)? process \d+",
        SRC_LINUX_OOM,
        "[12345.678901] Out of memory: Killed process 1234 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:6500kB oom_score_adj:0",
    ),
    cause(
        "linux.memcg_oom",
        Family::OutOfMemory,
        r"\bMemory cgroup out of memory\b",
        SRC_LINUX_OOM,
        "[ 9876.543210] Memory cgroup out of memory: Killed process 4321 (node) total-vm:1843200kB, anon-rss:524288kB, file-rss:20480kB, shmem-rss:0kB, UID:1000 pgtables:1400kB oom_score_adj:0",
    ),
    cause(
        "linux.oom_kill_constraint",
        Family::OutOfMemory,
        r"\boom-kill:constraint=CONSTRAINT_[A-Z]+",
        SRC_LINUX_OOM,
        "[ 9876.543100] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/ecs/3f2a,task_memcg=/ecs/3f2a/app,task=node,pid=4321,uid=1000",
    ),
    cause(
        "linux.invoked_oom_killer",
        Family::OutOfMemory,
        r"\binvoked oom-killer: ",
        SRC_LINUX_OOM,
        "[ 9876.540000] node invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
    ),
    cause(
        "systemd.oom_kill",
        Family::OutOfMemory,
        r"Failed with result 'oom-kill'|killed by the OOM killer",
        "https://github.com/systemd/systemd/blob/main/src/core/unit.c",
        "systemd[1]: app.service: Failed with result 'oom-kill'.",
    ),
    cause(
        "container.oomkilled",
        Family::OutOfMemory,
        r"\bOOMKilled\b",
        "https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/",
        "Last State:     Terminated   Reason: OOMKilled   Exit Code: 137",
    ),
    cause(
        "jvm.oom_heap",
        Family::OutOfMemory,
        r"OutOfMemoryError: Java heap space",
        SRC_JVM_OOM,
        r#"Exception in thread "http-nio-8080-exec-7" java.lang.OutOfMemoryError: Java heap space"#,
    ),
    cause(
        "jvm.oom_gc_overhead",
        Family::OutOfMemory,
        r"OutOfMemoryError: GC overhead limit exceeded",
        SRC_JVM_OOM,
        "java.lang.OutOfMemoryError: GC overhead limit exceeded",
    ),
    cause(
        "jvm.oom_metaspace",
        Family::OutOfMemory,
        r"OutOfMemoryError: (?:Metaspace|Compressed class space)",
        SRC_JVM_OOM,
        "java.lang.OutOfMemoryError: Metaspace",
    ),
    cause(
        "jvm.oom_native_thread",
        Family::OutOfMemory,
        r"OutOfMemoryError: unable to create (?:new )?native thread",
        SRC_JVM_OOM,
        "java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory or process/resource limits reached",
    ),
    cause(
        "jvm.oom_direct_buffer",
        Family::OutOfMemory,
        r"OutOfMemoryError: Direct buffer memory",
        SRC_JVM_OOM,
        "java.lang.OutOfMemoryError: Direct buffer memory",
    ),
    cause(
        "jvm.oom_other",
        Family::OutOfMemory,
        r"\bjava\.lang\.OutOfMemoryError\b",
        SRC_JVM_OOM,
        "java.lang.OutOfMemoryError: Requested array size exceeds VM limit",
    ),
    cause(
        "node.heap_oom",
        Family::OutOfMemory,
        r"JavaScript heap out of memory",
        "https://nodejs.org/api/cli.html#--max-old-space-sizesize-in-mib",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    ),
    cause(
        "go.runtime_oom",
        Family::OutOfMemory,
        r"fatal error: runtime: out of memory|runtime: cannot allocate memory",
        "https://github.com/golang/go/blob/master/src/runtime/malloc.go",
        "fatal error: runtime: out of memory",
    ),
    cause(
        "python.memory_error",
        Family::OutOfMemory,
        // `\bMemoryError` does not match inside `OutOfMemoryError` / `NoMemoryError` (no word
        // boundary there); numpy's `_ArrayMemoryError` is caught by its message.
        r"\bMemoryError\b|Unable to allocate [\d.]+ [KMGTP]?i?B for an array",
        "https://docs.python.org/3/library/exceptions.html#MemoryError",
        "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 7.45 GiB for an array with shape (1000000000,) and data type float64",
    ),
    cause(
        "dotnet.out_of_memory",
        Family::OutOfMemory,
        r"System\.OutOfMemoryException|Insufficient memory to continue the execution of the program",
        "https://learn.microsoft.com/en-us/dotnet/api/system.outofmemoryexception",
        "Unhandled exception. System.OutOfMemoryException: Insufficient memory to continue the execution of the program.",
    ),
    cause(
        "ruby.no_memory",
        Family::OutOfMemory,
        r"\bNoMemoryError\b",
        "https://docs.ruby-lang.org/en/master/NoMemoryError.html",
        "app/models/report.rb:12:in `*': failed to allocate memory (NoMemoryError)",
    ),
    cause(
        "redis.oom",
        Family::OutOfMemory,
        r"OOM command not allowed when used memory > 'maxmemory'",
        SRC_REDIS_SERVER_C,
        "redis.exceptions.OutOfMemoryError: OOM command not allowed when used memory > 'maxmemory'.",
    ),
    cause(
        "postgres.out_of_memory",
        Family::OutOfMemory,
        r"\b(?:ERROR|FATAL):\s+out of memory\b|Failed on request of size \d+",
        "https://github.com/postgres/postgres/blob/master/src/backend/utils/mmgr/mcxt.c",
        "2024-05-01 10:00:00 UTC [812]: ERROR:  out of memory",
    ),
    cause(
        "mysql.out_of_memory",
        Family::OutOfMemory,
        r"Out of memory; restart server and try again",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 1037 (HY001): Out of memory; restart server and try again (needed 65536 bytes)",
    ),
    cause(
        "os.enomem",
        Family::OutOfMemory,
        r"(?i)\bcannot allocate memory\b|\bENOMEM\b",
        "https://man7.org/linux/man-pages/man3/errno.3.html",
        "OSError: [Errno 12] Cannot allocate memory",
    ),
    // ---- StorageFull -------------------------------------------------------------------
    cause(
        "postgres.could_not_extend_file",
        Family::StorageFull,
        r"could not extend file .*(?:No space left on device|wrote only \d+ of \d+ bytes)",
        "https://github.com/postgres/postgres/blob/master/src/backend/storage/smgr/md.c",
        r#"ERROR:  could not extend file "base/16384/16397": No space left on device"#,
    ),
    cause(
        "postgres.panic_could_not_write",
        Family::StorageFull,
        r"PANIC:\s+could not write to file .*No space left on device",
        "https://github.com/postgres/postgres/blob/master/src/backend/access/transam/xlog.c",
        r#"PANIC:  could not write to file "pg_wal/xlogtemp.3140": No space left on device"#,
    ),
    cause(
        "mysql.table_full",
        Family::StorageFull,
        r"The table '[^']+' is full",
        "https://dev.mysql.com/doc/refman/8.0/en/full-table.html",
        "ERROR 1114 (HY000): The table 'events' is full",
    ),
    cause(
        "mysql.errno_28",
        Family::StorageFull,
        r"Errcode: 28\b|OS errno 28\b|\bDisk is full writing\b",
        "https://dev.mysql.com/doc/refman/8.0/en/full-disk.html",
        "ERROR 3 (HY000): Error writing file '/rdsdbdata/tmp/MYfd=52' (OS errno 28 - No space left on device)",
    ),
    cause(
        // MISCONF is written when the RDB background save fails; the save fails because the disk
        // cannot take the snapshot, so the line names the storage problem: a cause.
        "redis.misconf",
        Family::StorageFull,
        r"MISCONF Redis is configured to save RDB snapshots",
        SRC_REDIS_SERVER_C,
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.",
    ),
    cause(
        "sqlite.full",
        Family::StorageFull,
        r"database or disk is full|\bSQLITE_FULL\b",
        "https://www.sqlite.org/rescode.html#full",
        "sqlite3.OperationalError: database or disk is full",
    ),
    cause(
        "rds.storage_exhausted",
        Family::StorageFull,
        r"RDS-EVENT-0007\b|RDS-EVENT-0221\b|Allocated storage has been exhausted|allocated storage for the DB instance has been consumed|reached the storage-full threshold",
        SRC_RDS_EVENTS,
        r#"{"version":"0","detail-type":"RDS DB Instance Event","source":"aws.rds","region":"us-east-1","detail":{"EventCategories":["low storage"],"SourceType":"DB_INSTANCE","Message":"Allocated storage has been exhausted. Allocate additional storage to resolve the issue.","EventID":"RDS-EVENT-0007"}}"#,
    ),
    cause(
        // A warning, but it names the resource that is running out: a cause of StorageFull.
        "rds.storage_low",
        Family::StorageFull,
        r"RDS-EVENT-0089\b|RDS-EVENT-0222\b|RDS-EVENT-0227\b|(?i:free storage capacity for DB instance .* is low)|consumed more than 90% of its allocated storage|storage subsystem is running low on space",
        SRC_RDS_EVENTS,
        r#"{"version":"0","detail-type":"RDS DB Instance Event","source":"aws.rds","region":"us-east-1","detail":{"EventCategories":["low storage"],"SourceType":"DB_INSTANCE","Message":"The free storage capacity for DB instance: db-1 is low at 2% of the provisioned storage [Provisioned Storage: 19.07 GB, Free Storage: 0.37 GB]. You may want to increase the provisioned storage to address this issue.","EventID":"RDS-EVENT-0089"}}"#,
    ),
    cause(
        "dotnet.disk_full",
        Family::StorageFull,
        r"There is not enough space on the disk",
        "https://learn.microsoft.com/en-us/dotnet/api/system.io.ioexception",
        "System.IO.IOException: There is not enough space on the disk. : '/app/data/export.csv'",
    ),
    cause(
        "elasticsearch.flood_stage",
        Family::StorageFull,
        r"flood stage disk watermark \[[^\]]+\] exceeded",
        "https://www.elastic.co/guide/en/elasticsearch/reference/current/fix-watermark-errors.html",
        "[2024-05-01T10:00:00,000][WARN ][o.e.c.r.a.DiskThresholdMonitor] [node-1] flood stage disk watermark [95%] exceeded on [abc][node-1][/usr/share/elasticsearch/data] free: 1.2gb[4.1%], all indices on this node will be marked read-only",
    ),
    cause(
        "os.edquot",
        Family::StorageFull,
        r"(?i)\bdisk quota exceeded\b|\bEDQUOT\b",
        "https://man7.org/linux/man-pages/man3/errno.3.html",
        "write /data/out.bin: disk quota exceeded",
    ),
    cause(
        // ENOSPC in any runtime's words: Go and Node print it lower-case, glibc capitalised; nginx
        // writes `[crit] … (28: No space left on device)`.
        "os.enospc",
        Family::StorageFull,
        r"(?i)\bno space left on device\b|\bENOSPC\b",
        "https://man7.org/linux/man-pages/man3/errno.3.html",
        "Error: ENOSPC: no space left on device, write",
    ),
    // ---- DbSaturated -------------------------------------------------------------------
    cause(
        "postgres.too_many_clients",
        Family::DbSaturated,
        r"sorry, too many clients already|\bSQLSTATE 53300\b",
        "https://github.com/postgres/postgres/blob/master/src/backend/storage/lmgr/proc.c",
        r#"psycopg2.OperationalError: connection to server at "db.internal" (10.0.1.23), port 5432 failed: FATAL:  sorry, too many clients already"#,
    ),
    cause(
        "postgres.reserved_slots",
        Family::DbSaturated,
        r"remaining connection slots are reserved for",
        "https://github.com/postgres/postgres/blob/master/src/backend/utils/init/postinit.c",
        "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
    ),
    cause(
        "postgres.too_many_connections_for_role",
        Family::DbSaturated,
        r"too many connections for (?:role|database)",
        "https://github.com/postgres/postgres/blob/master/src/backend/utils/init/postinit.c",
        r#"FATAL:  too many connections for role "app""#,
    ),
    cause(
        "mysql.too_many_connections",
        Family::DbSaturated,
        r"(?i)\btoo many connections\b|\bER_CON_COUNT_ERROR\b",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 1040 (HY000): Too many connections",
    ),
    cause(
        "mysql.max_user_connections",
        Family::DbSaturated,
        r"has more than 'max_user_connections' active connections",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 1203 (42000): User app already has more than 'max_user_connections' active connections",
    ),
    cause(
        "redis.max_clients",
        Family::DbSaturated,
        r"max number of clients reached",
        "https://github.com/redis/redis/blob/unstable/src/networking.c",
        "ERR max number of clients reached",
    ),
    cause(
        "pgbouncer.max_client_conn",
        Family::DbSaturated,
        r"no more connections allowed \(max_client_conn\)",
        "https://www.pgbouncer.org/config.html",
        "ERROR: no more connections allowed (max_client_conn)",
    ),
    cause(
        "postgres.deadlock_detected",
        Family::DbSaturated,
        r"\bdeadlock detected\b",
        "https://github.com/postgres/postgres/blob/master/src/backend/storage/lmgr/deadlock.c",
        "ERROR:  deadlock detected",
    ),
    cause(
        "mysql.deadlock",
        Family::DbSaturated,
        r"Deadlock found when trying to get lock",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 1213 (40001): Deadlock found when trying to get lock; try restarting transaction",
    ),
    cause(
        "sqlserver.deadlock_victim",
        Family::DbSaturated,
        r"was deadlocked on lock resources with another process",
        "https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/mssqlserver-1205-database-engine-error",
        "Transaction (Process ID 57) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.",
    ),
    cause(
        // A lock wait names lock contention as the reason the statement failed.
        "mysql.lock_wait_timeout",
        Family::DbSaturated,
        r"Lock wait timeout exceeded",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 1205 (HY000): Lock wait timeout exceeded; try restarting transaction",
    ),
    cause(
        "postgres.lock_timeout",
        Family::DbSaturated,
        r"canceling statement due to lock timeout",
        SRC_PG_POSTGRES_C,
        "ERROR:  canceling statement due to lock timeout",
    ),
    cause(
        "postgres.lock_wait_logged",
        Family::DbSaturated,
        r"still waiting for [A-Za-z]+Lock on (?:transaction|relation|tuple|object|advisory lock)",
        "https://github.com/postgres/postgres/blob/master/src/backend/storage/lmgr/proc.c",
        "LOG:  process 2891 still waiting for ShareLock on transaction 1234567 after 1000.052 ms",
    ),
    cause(
        "postgres.wraparound",
        Family::DbSaturated,
        r"to avoid wraparound data loss|must be vacuumed within \d+ transactions",
        "https://github.com/postgres/postgres/blob/master/src/backend/access/transam/varsup.c",
        r#"ERROR:  database is not accepting commands to avoid wraparound data loss in database "app""#,
    ),
    // ---- Throttled ---------------------------------------------------------------------
    cause(
        "kinesis.shard_rate_exceeded",
        Family::Throttled,
        r"Rate exceeded for shard",
        "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html",
        "ProvisionedThroughputExceededException: Rate exceeded for shard shardId-000000000001 in stream events under account 123456789012.",
    ),
    cause(
        "dynamodb.provisioned_throughput_exceeded",
        Family::Throttled,
        r"\bProvisionedThroughputExceededException\b|configured provisioned throughput for the table was exceeded",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html",
        "ProvisionedThroughputExceededException: The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    ),
    cause(
        "lambda.too_many_requests",
        Family::Throttled,
        r"\bTooManyRequestsException\b|\b(?:ReservedFunction)?ConcurrentInvocationLimitExceeded\b|\bCallerRateLimitExceeded\b",
        SRC_LAMBDA_INVOKE,
        "TooManyRequestsException: Rate Exceeded. Reason: ReservedFunctionConcurrentInvocationLimitExceeded",
    ),
    cause(
        // A server-side error code of an AWS API: the service failed on its side, not the caller
        // (the common errors of every AWS API: InternalFailure 500, ServiceUnavailable 503).
        "aws.service_internal_error",
        Family::Connectivity,
        r#"\((?:InternalFailure|InternalError|InternalServerError|InternalServiceError|ServiceUnavailable|ServiceUnavailableException|InternalServerException|ServiceException)\)|"(?:__type|code|Code|errorCode|ErrorCode)"\s*:\s*"(?:InternalFailure|InternalError|InternalServerError|ServiceUnavailable)"|'InternalFailure'|<Code>(?:InternalError|ServiceUnavailable)</Code>|\bInternal service failure\b"#,
        "https://docs.aws.amazon.com/kinesis/latest/APIReference/CommonErrors.html",
        "botocore.exceptions.ClientError: An error occurred (InternalFailure) when calling the PutRecords operation (reached max retries: 4): Internal service failure.",
    ),
    cause(
        "aws.throttling_exception",
        Family::Throttled,
        r"\b[A-Za-z0-9]*Throttl(?:ed|ing)Exception\b",
        SRC_SDK_THROTTLE,
        "botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling the GetSecretValue operation (reached max retries: 4): Rate exceeded",
    ),
    cause(
        // The bare `Throttling` code as the SDKs print it (botocore, Java v1/v2, Go v2, XML).
        "aws.throttling_code",
        Family::Throttled,
        r#"\(Throttling\)|Error Code: Throttling\b|api error Throttling\b|<Code>Throttling</Code>|"(?:__type|code|Code|errorCode)"\s*:\s*"Throttling"|\bThrottling: Rate exceeded|\b(?:BandwidthLimitExceeded|RequestThrottled|PriorRequestNotComplete)\b"#,
        SRC_SDK_THROTTLE,
        "An error occurred (Throttling) when calling the AssumeRole operation (reached max retries: 4): Rate exceeded",
    ),
    cause(
        "ec2.request_limit_exceeded",
        Family::Throttled,
        r"\bRequestLimitExceeded\b|Request limit exceeded\.",
        SRC_EC2_ERRORS,
        "An error occurred (RequestLimitExceeded) when calling the DescribeInstances operation (reached max retries: 4): Request limit exceeded.",
    ),
    cause(
        "s3.slow_down",
        Family::Throttled,
        r"\bSlowDown\b|Please reduce your request rate",
        "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html",
        "An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate.",
    ),
    cause(
        "kms.request_rate",
        Family::Throttled,
        r"exceeded the rate at which you may call KMS",
        "https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html",
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
    ),
    cause(
        "aws.rate_exceeded",
        Family::Throttled,
        r"(?i)\brate exceeded\b",
        "https://repost.aws/knowledge-center/lambda-troubleshoot-throttling",
        "An error occurred (LimitExceededException) when calling the UpdateFunctionConfiguration operation: Rate exceeded",
    ),
    cause(
        "generic.rate_limit_exceeded",
        Family::Throttled,
        r"(?i)\brate[ -]?limit (?:exceeded|reached)\b|\b(?:was|been|being|is) rate[ -]?limited\b|\bRateLimitExceeded\b",
        "https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api",
        "API rate limit exceeded for installation ID 1234567.",
    ),
    // ---- Capacity ----------------------------------------------------------------------
    cause(
        "ec2.insufficient_instance_capacity",
        Family::Capacity,
        r"\bInsufficientInstanceCapacity\b|We currently do not have sufficient \S+ capacity",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/troubleshooting-launch.html",
        "An error occurred (InsufficientInstanceCapacity) when calling the RunInstances operation: We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1a).",
    ),
    cause(
        "ec2.insufficient_free_addresses",
        Family::Capacity,
        r"\bInsufficientFreeAddressesInSubnet\b|does not have enough free addresses|\bSubnetIPAddressLimitReachedException\b|insufficient free IP addresses",
        SRC_EC2_ERRORS,
        "InsufficientFreeAddressesInSubnet: The specified subnet does not have enough free addresses to satisfy the request.",
    ),
    cause(
        "ec2.vcpu_limit_exceeded",
        Family::Capacity,
        r"\bVcpuLimitExceeded\b|requested more vCPU capacity than your current vCPU limit",
        SRC_EC2_ERRORS,
        "VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to.",
    ),
    cause(
        "ec2.max_spot_instance_count",
        Family::Capacity,
        r"\bMaxSpotInstanceCountExceeded\b",
        SRC_EC2_ERRORS,
        "MaxSpotInstanceCountExceeded: Max spot instance count exceeded",
    ),
    cause(
        "ec2.instance_limit_exceeded",
        Family::Capacity,
        r"\bInstanceLimitExceeded\b|Your quota allows for \d+ more running instance",
        SRC_EC2_ERRORS,
        "InstanceLimitExceeded: Your quota allows for 0 more running instance(s). You requested at least 1",
    ),
    cause(
        "ec2.eni_limit",
        Family::Capacity,
        r"\bENILimitReachedException\b|\bNetworkInterfaceLimitExceeded\b|\bAttachmentLimitExceeded\b",
        SRC_LAMBDA_INVOKE,
        "ENILimitReachedException: Lambda was not able to create an ENI in the VPC of the Lambda function because the limit for Network Interfaces has been reached.",
    ),
    cause(
        "aws.service_quota_exceeded",
        Family::Capacity,
        r"\bServiceQuotaExceededException\b",
        "https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html",
        "ServiceQuotaExceededException: You have exceeded the maximum number of allowed resources.",
    ),
    cause(
        "fargate.capacity_unavailable",
        Family::Capacity,
        r"Capacity is unavailable at this time",
        SRC_ECS_SERVICE_EVENTS,
        "service web was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone.",
    ),
    cause(
        // The event's own name before the reason it carries (`RESOURCE:MEMORY`): the name is
        // what the ECS documentation and a reader search for.
        "ecs.unable_to_place_task",
        Family::Capacity,
        r"unable to place a task|\bSERVICE_TASK_PLACEMENT_FAILURE\b",
        SRC_ECS_SERVICE_EVENTS,
        "service web was unable to place a task because no container instance met all of its requirements. The closest matching container-instance 5f5c0f1e has insufficient memory available.",
    ),
    cause(
        "ecs.placement_resource",
        Family::Capacity,
        r"RESOURCE:(?:MEMORY|CPU|ENI|PORTS|GPU)\b|has insufficient (?:memory|CPU units|cpu) available",
        SRC_ECS_EB_SERVICE,
        r#"{"version":"0","detail-type":"ECS Service Action","source":"aws.ecs","region":"us-east-1","detail":{"eventType":"ERROR","eventName":"SERVICE_TASK_PLACEMENT_FAILURE","clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/default","capacityProviderArns":[],"reason":"RESOURCE:MEMORY","createdAt":"2024-05-01T10:00:00.000Z"}}"#,
    ),
    cause(
        "os.too_many_open_files",
        Family::Capacity,
        r"(?i)\btoo many open files\b|\bEMFILE\b",
        "https://man7.org/linux/man-pages/man3/errno.3.html",
        "2024/05/01 10:00:00 [alert] 23#23: *512 accept4() failed (24: Too many open files)",
    ),
    cause(
        "linux.nf_conntrack_full",
        Family::Capacity,
        r"nf_conntrack: table full, dropping packet",
        "https://github.com/torvalds/linux/blob/master/net/netfilter/nf_conntrack_core.c",
        "[345678.123456] nf_conntrack: nf_conntrack: table full, dropping packet",
    ),
    cause(
        "nginx.worker_connections",
        Family::Capacity,
        r"worker_connections are not enough",
        "https://github.com/nginx/nginx/blob/master/src/core/ngx_connection.c",
        "2024/05/01 10:00:00 [alert] 23#23: 1024 worker_connections are not enough",
    ),
    cause(
        "os.fork_eagain",
        Family::Capacity,
        r"fork: (?:retry: )?Resource temporarily unavailable",
        "https://man7.org/linux/man-pages/man2/fork.2.html",
        "bash: fork: retry: Resource temporarily unavailable",
    ),
    // ---- AccessDenied (causes: the line says what is wrong with the credential or key) ----
    cause(
        "aws.expired_token",
        Family::AccessDenied,
        r"\bExpiredToken(?:Exception)?\b|security token included in the request is expired|\bRequestExpired\b",
        SRC_STS_ERRORS,
        "An error occurred (ExpiredTokenException) when calling the GetCallerIdentity operation: The security token included in the request is expired",
    ),
    cause(
        "aws.invalid_client_token",
        Family::AccessDenied,
        r"\bInvalidClientTokenId\b|security token included in the request is invalid|\bUnrecognizedClientException\b|\bInvalidAccessKeyId\b|Access Key Id you provided does not exist",
        SRC_STS_ERRORS,
        "An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid.",
    ),
    cause(
        "aws.signature_does_not_match",
        Family::AccessDenied,
        r"\bSignatureDoesNotMatch\b",
        "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html",
        "An error occurred (SignatureDoesNotMatch) when calling the GetObject operation: The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    ),
    cause(
        "kms.disabled_key",
        Family::AccessDenied,
        r"\b(?:KMS)?DisabledException\b|arn:aws:kms:\S+ is disabled",
        SRC_KMS_KEY_STATE,
        "An error occurred (DisabledException) when calling the Decrypt operation: arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab is disabled.",
    ),
    cause(
        "kms.invalid_state",
        Family::AccessDenied,
        r"\b(?:KMS)?InvalidStateException\b.*(?:kms|KMS|key)|\bKMSInvalidStateException\b|arn:aws:kms:\S+ is pending deletion",
        SRC_KMS_KEY_STATE,
        "An error occurred (KMSInvalidStateException) when calling the Decrypt operation: arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab is pending deletion.",
    ),
    cause(
        "kms.not_found",
        Family::AccessDenied,
        r"\bKMS\.NotFoundException\b|\bKMSNotFoundException\b",
        SRC_LAMBDA_INVOKE,
        "KMSNotFoundException: Lambda was unable to decrypt the environment variables because the KMS key was not found.",
    ),
    cause(
        "aws.no_credentials",
        Family::AccessDenied,
        r"Unable to locate credentials|\bNoCredentialProviders\b|Unable to load (?:AWS )?credentials from any (?:of the )?providers? in the chain|Could not load credentials from any providers",
        "https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html",
        "botocore.exceptions.NoCredentialsError: Unable to locate credentials",
    ),
    cause(
        // RDS IAM database authentication refused the token (the role's `rds-db:connect` policy,
        // an expired token, the user's grant): PostgreSQL logs the PAM failure.
        "rds.iam_db_auth_pam_failed",
        Family::AccessDenied,
        r"PAM authentication failed for user",
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Troubleshooting.html",
        r#"FATAL:  PAM authentication failed for user "claims_app""#,
    ),
    cause(
        "postgres.password_auth_failed",
        Family::AccessDenied,
        r"password authentication failed for user",
        "https://github.com/postgres/postgres/blob/master/src/backend/libpq/auth.c",
        r#"FATAL:  password authentication failed for user "app""#,
    ),
    // ---- CertExpired -------------------------------------------------------------------
    cause(
        // Go folds "expired" and "not yet valid" into one message.
        "go.x509_expired_or_not_yet_valid",
        Family::CertExpired,
        r"x509: certificate has expired or is not yet valid",
        SRC_GO_X509,
        r#"Get "https://api.example.com/v1": x509: certificate has expired or is not yet valid: current time 2024-05-01T10:00:00Z is after 2024-04-30T23:59:59Z"#,
    ),
    cause(
        "tls.certificate_expired",
        Family::CertExpired,
        r"(?i)\bcertificate (?:has )?expired\b|\bCERT_HAS_EXPIRED\b|\bCertificateExpiredException\b|\bcertificate_expired\b",
        SRC_OPENSSL_VERIFY,
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)",
    ),
    cause(
        "tls.certificate_not_yet_valid",
        Family::CertExpired,
        r"(?i)\bcertificate is not yet valid\b|\bCERT_NOT_YET_VALID\b|\bCertificateNotYetValidException\b",
        SRC_NODE_X509,
        "Error: certificate is not yet valid code: 'CERT_NOT_YET_VALID'",
    ),
    cause(
        "tls.unknown_authority",
        Family::CertExpired,
        r"x509: certificate signed by unknown authority|PKIX path building failed|unable to find valid certification path|(?i:unable to get local issuer certificate)|\bUNABLE_TO_GET_ISSUER_CERT_LOCALLY\b|\bUNABLE_TO_VERIFY_LEAF_SIGNATURE\b|(?i:self[- ]signed certificate)|\bSELF_SIGNED_CERT_IN_CHAIN\b|\bDEPTH_ZERO_SELF_SIGNED_CERT\b|tlsv1 alert unknown ca",
        SRC_GO_X509,
        "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
    ),
    cause(
        "tls.hostname_mismatch",
        Family::CertExpired,
        r"x509: certificate is valid for |Hostname mismatch, certificate is not valid for|\bERR_TLS_CERT_ALTNAME_INVALID\b|does not match certificate's altnames|No subject alternative (?:DNS )?names? matching|\bRemoteCertificateNameMismatch\b|no alternative certificate subject name matches",
        SRC_GO_X509,
        "x509: certificate is valid for *.internal.example.com, not api.example.com",
    ),
    cause(
        // Verification failed on the certificate (reason not given, but the certificate is named).
        "tls.verify_failed",
        Family::CertExpired,
        r"(?i)\bcertificate verify failed\b|\bCERTIFICATE_VERIFY_FAILED\b|SSL certificate problem|\bRemoteCertificateChainErrors\b|remote certificate is invalid|tls: failed to verify certificate|\bx509: ",
        SRC_OPENSSL_VERIFY,
        "2024/05/01 10:00:00 [error] 23#23: *7 SSL_do_handshake() failed (SSL: error:0A000086:SSL routines::certificate verify failed) while SSL handshaking to upstream",
    ),
    // ---- Dns ---------------------------------------------------------------------------
    cause(
        "dns.nxdomain",
        Family::Dns,
        r"\bNXDOMAIN\b|server can't find ",
        "https://www.rfc-editor.org/rfc/rfc8499",
        "** server can't find api.internal.example.com: NXDOMAIN",
    ),
    cause(
        "dns.servfail",
        Family::Dns,
        r"\bSERVFAIL\b|no servers could be reached",
        "https://www.rfc-editor.org/rfc/rfc8499",
        ";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 41533",
    ),
    cause(
        "go.no_such_host",
        Family::Dns,
        r"\bno such host\b|: server misbehaving\b",
        "https://github.com/golang/go/blob/master/src/net/net.go",
        "dial tcp: lookup api.example.com on 10.0.0.2:53: no such host",
    ),
    cause(
        "node.getaddrinfo",
        Family::Dns,
        r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN)\b",
        "https://nodejs.org/api/dns.html#error-codes",
        "Error: getaddrinfo ENOTFOUND api.example.com",
    ),
    cause(
        "jvm.unknown_host",
        Family::Dns,
        r"\bUnknownHostException\b",
        "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/java/net/UnknownHostException.html",
        "java.net.UnknownHostException: api.example.com: Name or service not known",
    ),
    cause(
        "python.name_resolution_error",
        Family::Dns,
        r"\bNameResolutionError\b|Failed to resolve '",
        "https://urllib3.readthedocs.io/en/stable/reference/urllib3.exceptions.html",
        r#"urllib3.exceptions.NameResolutionError: <urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve 'api.example.com' ([Errno -3] Temporary failure in name resolution)"#,
    ),
    cause(
        "dotnet.no_such_host",
        Family::Dns,
        r"No such host is known",
        "https://learn.microsoft.com/en-us/dotnet/api/system.net.sockets.socketerror",
        "System.Net.Http.HttpRequestException: No such host is known. (api.example.com:443)",
    ),
    cause(
        "curl.could_not_resolve_host",
        Family::Dns,
        r"Could not resolve host",
        "https://curl.se/libcurl/c/libcurl-errors.html",
        "curl: (6) Could not resolve host: api.example.com",
    ),
    cause(
        "nginx.could_not_be_resolved",
        Family::Dns,
        r"could not be resolved \(\d+: [^)]*\)|host not found in upstream",
        "https://github.com/nginx/nginx/blob/master/src/core/ngx_resolver.c",
        "2024/05/01 10:00:00 [error] 23#23: *1 api.internal could not be resolved (3: Host not found), client: 10.0.0.9, server: _, request: \"GET / HTTP/1.1\"",
    ),
    cause(
        "libpq.could_not_translate_host",
        Family::Dns,
        r"could not translate host name",
        "https://github.com/postgres/postgres/blob/master/src/interfaces/libpq/fe-connect.c",
        r#"psql: error: could not translate host name "db.internal" to address: Name or service not known"#,
    ),
    cause(
        "mysql.unknown_server_host",
        Family::Dns,
        r"Unknown MySQL server host",
        SRC_MYSQL_CLIENT_ERRORS,
        "ERROR 2005 (HY000): Unknown MySQL server host 'db.internal' (-2)",
    ),
    cause(
        "gai.temporary_failure",
        Family::Dns,
        r"Temporary failure in name resolution|Name or service not known|nodename nor servname provided|No address associated with hostname",
        SRC_GAI,
        "socket.gaierror: [Errno -3] Temporary failure in name resolution",
    ),
    // ---- InstanceLost ------------------------------------------------------------------
    cause(
        "ec2.spot_interruption",
        Family::InstanceLost,
        r#"EC2 Spot Instance Interruption Warning|Your Spot Task was interrupted|"stopCode"\s*:\s*"(?:SpotInterruption|TerminationNotice)""#,
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html",
        r#"{"version":"0","id":"12345678-1234-1234-1234-123456789012","detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2","account":"123456789012","time":"2024-05-01T10:00:00Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1a:instance/i-1234567890abcdef0"],"detail":{"instance-id":"i-1234567890abcdef0","instance-action":"terminate"}}"#,
    ),
    cause(
        // The host went away. A scale-in produces the same event; rules weigh it against timing.
        "ec2.instance_state_change_down",
        Family::InstanceLost,
        r#"EC2 Instance State-change Notification.*"state"\s*:\s*"(?:stopping|stopped|shutting-down|terminated)""#,
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html",
        r#"{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2024-05-01T10:00:00Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-abcd1111","state":"terminated"}}"#,
    ),
    cause(
        "health.ec2_scheduled_retirement",
        Family::InstanceLost,
        r"\bAWS_EC2_(?:PERSISTENT_)?INSTANCE_RETIREMENT_SCHEDULED\b|\bAWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED\b|\bAWS_EC2_(?:INSTANCE|SYSTEM)_REBOOT_MAINTENANCE_SCHEDULED\b|\bAWS_EC2_INSTANCE_STOP_SCHEDULED\b|\bAWS_EBS_VOLUME_LOST\b|running on degraded hardware",
        "https://docs.aws.amazon.com/health/latest/ug/aws-health-events-eventbridge-schema.html",
        r#"{"version":"0","detail-type":"AWS Health Event","source":"aws.health","account":"123456789012","region":"us-east-1","resources":["i-abcd1111"],"detail":{"eventArn":"arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_ABC123","service":"EC2","eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","eventTypeCategory":"scheduledChange"}}"#,
    ),
    cause(
        "ec2.system_status_check_failed",
        Family::InstanceLost,
        r"\bStatusCheckFailed_System\b",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html",
        r#"{"detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch","detail":{"alarmName":"i-abcd1111-system-check","state":{"value":"ALARM","reason":"Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0)."},"configuration":{"metrics":[{"metricStat":{"metric":{"namespace":"AWS/EC2","name":"StatusCheckFailed_System"}}}]}}}"#,
    ),
    cause(
        "ecs.host_ec2_stopped",
        Family::InstanceLost,
        r"Host EC2 \(instance [^)]*\) (?:stopped|terminated)",
        SRC_ECS_STOPPED,
        "Host EC2 (instance i-0abc1234def567890) stopped/terminated.",
    ),
    cause(
        "rds.failover",
        Family::InstanceLost,
        r"RDS-EVENT-00(?:13|15|49|50|51|65|69|70|71|72|73)\b|Multi-AZ (?:instance )?failover|failover (?:for the DB cluster|to DB instance)|(?:same|cross)-AZ failover",
        SRC_RDS_EVENTS,
        r#"{"version":"0","detail-type":"RDS DB Instance Event","source":"aws.rds","region":"us-east-1","detail":{"EventCategories":["failover"],"SourceType":"DB_INSTANCE","Message":"Multi-AZ instance failover completed.","SourceIdentifier":"db-1","EventID":"RDS-EVENT-0049"}}"#,
    ),
    cause(
        "rds.restart_or_shutdown",
        Family::InstanceLost,
        r"RDS-EVENT-00(?:04|06|22|26|31)\b|DB instance (?:restarted|shutdown)",
        SRC_RDS_EVENTS,
        r#"{"version":"0","detail-type":"RDS DB Instance Event","source":"aws.rds","region":"us-east-1","detail":{"EventCategories":["availability"],"SourceType":"DB_INSTANCE","Message":"DB instance restarted","SourceIdentifier":"db-1","EventID":"RDS-EVENT-0006"}}"#,
    ),
    cause(
        "elasticache.node_replacement_or_failover",
        Family::InstanceLost,
        r"ElastiCache:(?:CacheNodeReplaceStarted|CacheNodeReplaceComplete|CacheNodeReplaceRescheduled|FailoverComplete|CacheNodesRebooted)\b|Failover from (?:master|primary) node \S+ to replica node \S+ completed|Recovering cache nodes",
        "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ElastiCacheSNS.html",
        "ElastiCache:FailoverComplete : cache-1",
    ),
    cause(
        // The postmaster reports a backend killed with SIGKILL; on Linux (and RDS/Aurora) that
        // is the kernel's OOM killer choosing a PostgreSQL process, after which every other
        // session is reset and the server goes through crash recovery.
        "postgres.backend_killed_signal_9",
        Family::OutOfMemory,
        r"\(PID [0-9]+\) was terminated by signal 9\b",
        "https://www.postgresql.org/docs/current/kernel-resources.html#LINUX-MEMORY-OVERCOMMIT",
        "LOG:  server process (PID 28711) was terminated by signal 9: Killed",
    ),
    cause(
        "postgres.shutting_down",
        Family::InstanceLost,
        r"the database system is shutting down",
        SRC_PG_BACKEND_STARTUP,
        "FATAL:  the database system is shutting down",
    ),
    cause(
        "postgres.recovery_mode",
        Family::InstanceLost,
        r"the database system is in recovery mode",
        SRC_PG_BACKEND_STARTUP,
        "FATAL:  the database system is in recovery mode",
    ),
    cause(
        "postgres.starting_up",
        Family::InstanceLost,
        r"the database system is starting up",
        SRC_PG_BACKEND_STARTUP,
        "FATAL:  the database system is starting up",
    ),
    cause(
        // SQLSTATE 57P01 admin_shutdown: the server (or an operator) ended the session.
        "postgres.admin_shutdown",
        Family::InstanceLost,
        r"terminating connection due to administrator command",
        SRC_PG_ERRCODES,
        "FATAL:  terminating connection due to administrator command",
    ),
    cause(
        "postgres.crash_of_another_process",
        Family::InstanceLost,
        r"terminating connection because of crash of another server process",
        SRC_PG_POSTGRES_C,
        "WARNING:  terminating connection because of crash of another server process",
    ),
    cause(
        "mysql.server_shutdown",
        Family::InstanceLost,
        r"Server shutdown in progress",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 1053 (08S01): Server shutdown in progress",
    ),
    cause(
        "linux.kernel_panic",
        Family::InstanceLost,
        r"\bKernel panic\b",
        "https://github.com/torvalds/linux/blob/master/kernel/panic.c",
        "[ 1234.567890] Kernel panic - not syncing: Fatal exception in interrupt",
    ),
    cause(
        "linux.machine_check",
        Family::InstanceLost,
        r"Machine check events logged|\[Hardware Error\]",
        "https://github.com/torvalds/linux/blob/master/arch/x86/kernel/cpu/mce/core.c",
        "[ 4567.123456] mce: [Hardware Error]: Machine check events logged",
    ),
    cause(
        "linux.ext4_error",
        Family::InstanceLost,
        r"EXT4-fs error \(device",
        "https://github.com/torvalds/linux/blob/master/fs/ext4/super.c",
        "[ 7890.123456] EXT4-fs error (device nvme1n1): ext4_find_entry:1455: inode #2: comm app: reading directory lblock 0",
    ),
    cause(
        "linux.block_io_error",
        Family::InstanceLost,
        r"Buffer I/O error on dev(?:ice)? |\bI/O error, dev \S+, sector",
        "https://github.com/torvalds/linux/blob/master/block/blk-core.c",
        "[ 7890.000001] blk_update_request: I/O error, dev nvme1n1, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0",
    ),
    // ---- CpuStarved --------------------------------------------------------------------
    cause(
        "linux.soft_lockup",
        Family::CpuStarved,
        r"BUG: soft lockup - CPU#\d+ stuck",
        "https://github.com/torvalds/linux/blob/master/kernel/watchdog.c",
        "[ 2345.678901] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [java:1234]",
    ),
    // The kernel's leap-second insertion: on kernels before the 2012 hrtimer fix, futex and
    // timer users (JVMs, MySQL) spun at 100% CPU from that second on, and restarting the process
    // did not help (commit 6b43ae8a619d, "ntp: Fix leap-second hrtimer livelock").
    cause(
        "linux.leap_second_inserted",
        Family::CpuStarved,
        r"Clock: inserting leap second",
        "https://github.com/torvalds/linux/commit/6b43ae8a619d17c4935c3320d2ef9e92bdeed05d",
        "Jun 30 23:59:59 app-1 kernel: Clock: inserting leap second 23:59:60 UTC",
    ),
    // HotSpot stops compiling once its code cache is full: from then on new and deoptimised
    // methods run interpreted, many times slower, and the process's CPU climbs to its limit.
    cause(
        "jvm.codecache_full",
        Family::CpuStarved,
        r"CodeCache is full\. Compiler has been disabled",
        "https://docs.oracle.com/javase/8/embedded/develop-apps-platforms/codecache.htm",
        "OpenJDK 64-Bit Server VM warning: CodeCache is full. Compiler has been disabled.",
    ),
    cause(
        "linux.rcu_stall",
        Family::CpuStarved,
        r"rcu: INFO: rcu_\w+ (?:self-)?detected stalls? on CPU|rcu_sched self-detected stall",
        "https://github.com/torvalds/linux/blob/master/kernel/rcu/tree_stall.h",
        "[ 2400.000001] rcu: INFO: rcu_sched self-detected stall on CPU",
    ),
    cause(
        "linux.rt_throttling",
        Family::CpuStarved,
        r"sched: RT throttling activated",
        "https://github.com/torvalds/linux/blob/master/kernel/sched/rt.c",
        "[ 2500.000001] sched: RT throttling activated",
    ),
    cause(
        "generic.cpu_throttled",
        Family::CpuStarved,
        r"(?i)\bcpu (?:is |was |being )?throttled\b|\bCPUThrottlingHigh\b",
        "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/cputhrottlinghigh/",
        "alertname=CPUThrottlingHigh severity=info message=\"52% throttling of CPU in namespace app for container web\"",
    ),
    // ---- BadConfig ---------------------------------------------------------------------
    cause(
        "ecs.image_not_found",
        Family::BadConfig,
        r"CannotPullContainerError.*(?:not found|manifest unknown|repository does not exist|pull access denied|no matching manifest)|\bmanifest unknown\b|repository does not exist or may require 'docker login'",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html",
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2.3.1: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2.3.1: not found",
    ),
    cause(
        "ecs.secret_or_parameter_not_found",
        Family::BadConfig,
        r"ResourceInitializationError.*(?:ResourceNotFoundException|ParameterNotFound|InvalidParameters|NoSuchKey|NoSuchBucket)",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html",
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:123456789012:secret:db-abc from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.",
    ),
    cause(
        "container.exec_format_error",
        Family::BadConfig,
        r"exec format error",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html",
        "exec /usr/local/bin/server: exec format error",
    ),
    cause(
        "container.executable_not_found",
        Family::BadConfig,
        r"executable file not found in \$PATH|exec \S+: no such file or directory",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html",
        r#"CannotStartContainerError: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "gunicorn": executable file not found in $PATH: unknown"#,
    ),
    cause(
        // A PostgreSQL client with no host configured falls back to the local Unix-domain socket
        // (libpq's default when `host` is empty); in a container or on a database elsewhere that
        // socket does not exist, so the line says the connection settings are missing.
        "postgres.no_host_configured",
        Family::BadConfig,
        r#"connection to server on socket "[^"]*\.s\.PGSQL\.\d+" failed|could not connect to server: No such file or directory\s+Is the server running locally and accepting\s+connections on Unix domain socket"#,
        "https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-HOST",
        r#"ActiveRecord::ConnectionNotEstablished: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or directory"#,
    ),
    cause(
        "lambda.import_module_error",
        Family::BadConfig,
        r"\bRuntime\.ImportModuleError\b|Unable to import module '",
        "https://repost.aws/knowledge-center/lambda-import-module-error-python",
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'lambda_function': No module named 'requests'",
    ),
    cause(
        "lambda.handler_not_found",
        Family::BadConfig,
        r"\bRuntime\.HandlerNotFound\b",
        SRC_LAMBDA_TROUBLESHOOT,
        r#"{"errorType":"Runtime.HandlerNotFound","errorMessage":"index.handler is undefined or not exported"}"#,
    ),
    cause(
        "apigateway.configuration_error",
        Family::BadConfig,
        r"Execution failed due to configuration error",
        "https://repost.aws/knowledge-center/api-gateway-internal-server-error",
        "(5a1c2b3d-1234-4abc-9def-0123456789ab) Execution failed due to configuration error: Invalid endpoint address",
    ),
    cause(
        // An environment-variable-shaped key (upper case, 3+ chars) missing from os.environ /
        // ENV.fetch: a missing setting, not a code bug. Must precede python.key_error.
        "config.missing_env_key",
        Family::BadConfig,
        r#"KeyError: '[A-Z][A-Z0-9_]{2,}'|KeyError: key not found: "[A-Z][A-Z0-9_]{2,}"|required key \S+ missing value"#,
        "https://docs.python.org/3/library/os.html#os.environ",
        "KeyError: 'DATABASE_URL'",
    ),
    cause(
        "config.missing_env_var",
        Family::BadConfig,
        r"(?i)\b(?:missing|required|undefined) (?:required )?env(?:ironment)?(?: |_)?var(?:iable)?s?\b|\benv(?:ironment)? var(?:iable)? \S+ (?:is )?(?:not set|missing|required|must be set|is not defined)",
        "https://12factor.net/config",
        "Error: Missing required environment variable: STRIPE_API_KEY",
    ),
    cause(
        "spring.unresolved_placeholder",
        Family::BadConfig,
        r"Could not resolve placeholder '[^']+'|Failed to bind properties under|Failed to configure a DataSource",
        "https://docs.spring.io/spring-boot/reference/features/external-config.html",
        r#"java.lang.IllegalArgumentException: Could not resolve placeholder 'DB_URL' in value "${DB_URL}""#,
    ),
    cause(
        "python.settings_validation",
        Family::BadConfig,
        r"\d+ validation errors? for Settings\b|\bImproperlyConfigured\b",
        "https://docs.pydantic.dev/latest/concepts/pydantic_settings/",
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings",
    ),
    cause(
        "rails.missing_secret_key_base",
        Family::BadConfig,
        r"Missing `secret_key_base`",
        "https://guides.rubyonrails.org/security.html#custom-credentials",
        "ArgumentError: Missing `secret_key_base` for 'production' environment, set this string with `bin/rails credentials:edit`",
    ),
    cause(
        "python.module_not_found",
        Family::BadConfig,
        r"\bModuleNotFoundError\b|ImportError: cannot import name|No module named '",
        "https://docs.python.org/3/library/exceptions.html#ModuleNotFoundError",
        "ModuleNotFoundError: No module named 'psycopg2'",
    ),
    cause(
        "node.module_not_found",
        Family::BadConfig,
        r"Error: Cannot find module '|\bERR_MODULE_NOT_FOUND\b|\bMODULE_NOT_FOUND\b",
        "https://nodejs.org/api/errors.html#module_not_found",
        "Error: Cannot find module 'express'",
    ),
    cause(
        // A class missing at run time means the build or classpath is wrong, not the code logic.
        "jvm.class_not_found",
        Family::BadConfig,
        r"\bjava\.lang\.(?:ClassNotFoundException|NoClassDefFoundError)\b",
        "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/java/lang/ClassNotFoundException.html",
        "Caused by: java.lang.ClassNotFoundException: org.postgresql.Driver",
    ),
    cause(
        "dotnet.assembly_load",
        Family::BadConfig,
        r"Could not load file or assembly '",
        "https://learn.microsoft.com/en-us/dotnet/api/system.io.filenotfoundexception",
        "System.IO.FileNotFoundException: Could not load file or assembly 'Npgsql, Version=8.0.0.0, Culture=neutral, PublicKeyToken=5d8b90d52f46fda7'. The system cannot find the file specified.",
    ),
    cause(
        "ruby.load_error",
        Family::BadConfig,
        r"\bLoadError\b.*cannot load such file|cannot load such file -- ",
        "https://docs.ruby-lang.org/en/master/LoadError.html",
        "/usr/local/lib/ruby/3.2.0/bundled_gems.rb:74:in `require': cannot load such file -- pg (LoadError)",
    ),
    cause(
        "migrations.failed",
        Family::BadConfig,
        r"\bFlyway(?:Validate)?Exception\b|Migrations? (?:have )?failed validation|Migration \S+ failed|Migration failed for change ?set|\bPendingMigrationError\b|Migrations are pending|Can't locate revision identified by|migrate found failed migrations",
        "https://documentation.red-gate.com/fd/validate-184127464.html",
        "org.flywaydb.core.api.exception.FlywayValidateException: Validate failed: Migrations have failed validation",
    ),
    cause(
        "os.address_in_use",
        Family::BadConfig,
        r"(?i)\baddress already in use\b|\bEADDRINUSE\b",
        SRC_NODE_SYSERR,
        "Error: listen EADDRINUSE: address already in use :::8080",
    ),
    cause(
        "nginx.emerg",
        Family::BadConfig,
        r"\[emerg\]",
        "https://nginx.org/en/docs/ngx_core_module.html#error_log",
        r#"nginx: [emerg] unknown directive "proxy_passs" in /etc/nginx/conf.d/default.conf:12"#,
    ),
    // ---- CodeError ---------------------------------------------------------------------
    cause(
        "jvm.null_pointer",
        Family::CodeError,
        r"\bjava\.lang\.NullPointerException\b|\bNullPointerException: Cannot invoke",
        "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/java/lang/NullPointerException.html",
        r#"java.lang.NullPointerException: Cannot invoke "com.example.Order.getId()" because "order" is null"#,
    ),
    cause(
        "jvm.runtime_exception",
        Family::CodeError,
        r"\bjava\.lang\.(?:ArrayIndexOutOfBoundsException|IndexOutOfBoundsException|StringIndexOutOfBoundsException|ClassCastException|NumberFormatException|ArithmeticException|StackOverflowError|UnsupportedOperationException)\b|\bjava\.util\.ConcurrentModificationException\b",
        "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/java/lang/RuntimeException.html",
        "java.lang.ClassCastException: class java.lang.String cannot be cast to class java.lang.Integer",
    ),
    cause(
        "dotnet.null_reference",
        Family::CodeError,
        r"\bSystem\.NullReferenceException\b|Object reference not set to an instance of an object",
        "https://learn.microsoft.com/en-us/dotnet/api/system.nullreferenceexception",
        "System.NullReferenceException: Object reference not set to an instance of an object.",
    ),
    cause(
        "dotnet.runtime_exception",
        Family::CodeError,
        r"\bSystem\.(?:IndexOutOfRangeException|ArgumentNullException|InvalidCastException|DivideByZeroException|Collections\.Generic\.KeyNotFoundException)\b",
        "https://learn.microsoft.com/en-us/dotnet/standard/exceptions/",
        "System.Collections.Generic.KeyNotFoundException: The given key 'tenant' was not present in the dictionary.",
    ),
    cause(
        "go.nil_pointer",
        Family::CodeError,
        r"invalid memory address or nil pointer dereference",
        "https://github.com/golang/go/blob/master/src/runtime/panic.go",
        "panic: runtime error: invalid memory address or nil pointer dereference",
    ),
    cause(
        "go.runtime_error",
        Family::CodeError,
        r"panic: runtime error: |fatal error: concurrent map (?:writes|read and map write|iteration and map write)|assignment to entry in nil map",
        "https://github.com/golang/go/blob/master/src/runtime/error.go",
        "panic: runtime error: index out of range [5] with length 3",
    ),
    cause(
        "native.segfault",
        Family::CodeError,
        r"\bsegfault at [0-9a-f]+ ip |Segmentation fault|signal SIGSEGV|SIGSEGV: segmentation violation|double free or corruption",
        "https://github.com/torvalds/linux/blob/master/arch/x86/mm/fault.c",
        "[ 3456.789012] app[1234]: segfault at 0 ip 00007f3c2a1b4c5d sp 00007ffd9e8a7b60 error 4 in libapp.so[7f3c2a1a0000+40000]",
    ),
    cause(
        "rust.panic",
        Family::CodeError,
        r"thread '[^']*' panicked at ",
        "https://doc.rust-lang.org/std/macro.panic.html",
        "thread 'tokio-runtime-worker' panicked at src/handlers/orders.rs:88:14:",
    ),
    cause(
        "js.cannot_read_properties",
        Family::CodeError,
        r"TypeError: Cannot read propert(?:y|ies) |TypeError: Cannot (?:set|destructure) propert(?:y|ies) |TypeError: \S+ is not (?:a function|iterable|a constructor)",
        "https://developer.mozilla.org/en-US/docs/Web/JavaScript/Reference/Errors/Cant_access_property",
        "TypeError: Cannot read properties of undefined (reading 'id')",
    ),
    cause(
        "js.reference_error",
        Family::CodeError,
        r"ReferenceError: \S+ is not defined|RangeError: Maximum call stack size exceeded",
        "https://developer.mozilla.org/en-US/docs/Web/JavaScript/Reference/Errors/Not_defined",
        "ReferenceError: orderTotal is not defined",
    ),
    cause(
        "python.type_error",
        Family::CodeError,
        r"TypeError: (?:unsupported operand type|'[^']+' object is not (?:subscriptable|callable|iterable)|can only concatenate|\S+\(\) (?:takes|missing|got an unexpected)|NoneType)",
        "https://docs.python.org/3/library/exceptions.html#TypeError",
        "TypeError: 'NoneType' object is not subscriptable",
    ),
    cause(
        "python.attribute_error",
        Family::CodeError,
        r"\bAttributeError: ",
        "https://docs.python.org/3/library/exceptions.html#AttributeError",
        "AttributeError: 'NoneType' object has no attribute 'get'",
    ),
    cause(
        "python.key_error",
        Family::CodeError,
        r"(?:^|[\s.:])KeyError: ",
        "https://docs.python.org/3/library/exceptions.html#KeyError",
        "KeyError: 'user_id'",
    ),
    cause(
        "ruby.name_error",
        Family::CodeError,
        r"uninitialized constant \S+|undefined local variable or method|no implicit conversion of \S+ into",
        "https://docs.ruby-lang.org/en/master/NameError.html",
        "NameError: uninitialized constant OrdersController::Invoice",
    ),
    cause(
        "python.lookup_or_name_error",
        Family::CodeError,
        r"\b(?:IndexError|NameError|UnboundLocalError|ZeroDivisionError|RecursionError): |SyntaxError: invalid syntax",
        "https://docs.python.org/3/library/exceptions.html#concrete-exceptions",
        "IndexError: list index out of range",
    ),
    cause(
        "ruby.no_method_error",
        Family::CodeError,
        r"\bNoMethodError\b|undefined method [`'][^`']+' for ",
        "https://docs.ruby-lang.org/en/master/NoMethodError.html",
        "NoMethodError: undefined method `email' for nil:NilClass",
    ),
    cause(
        "lambda.user_code_syntax_error",
        Family::CodeError,
        r"\bRuntime\.UserCodeSyntaxError\b",
        SRC_LAMBDA_TROUBLESHOOT,
        r#"{"errorType":"Runtime.UserCodeSyntaxError","errorMessage":"SyntaxError: Unexpected token '}'"}"#,
    ),
    // =====================================================================================
    // SYMPTOM rows: most specific first; the generic rows come last.
    // =====================================================================================

    // ---- DbSaturated: pools exhausted waiting on the database, statement timeouts -----
    symptom(
        "hikaricp.connection_not_available",
        Family::DbSaturated,
        r"Connection is not available, request timed out after \d+ ?ms",
        "https://github.com/brettwooldridge/HikariCP/blob/dev/src/main/java/com/zaxxer/hikari/pool/HikariPool.java",
        "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.",
    ),
    symptom(
        "activerecord.pool_timeout",
        Family::DbSaturated,
        r"could not obtain a connection from the pool within|\bActiveRecord::ConnectionTimeoutError\b",
        "https://api.rubyonrails.org/classes/ActiveRecord/ConnectionTimeoutError.html",
        "ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use",
    ),
    symptom(
        "sqlalchemy.queuepool_limit",
        Family::DbSaturated,
        r"QueuePool limit of size \d+ overflow -?\d+ reached",
        "https://docs.sqlalchemy.org/en/20/errors.html#error-3o7r",
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)",
    ),
    symptom(
        "prisma.pool_timeout",
        Family::DbSaturated,
        r"Timed out fetching a new connection from the connection pool",
        "https://www.prisma.io/docs/orm/reference/error-reference#p2024",
        "PrismaClientKnownRequestError: Timed out fetching a new connection from the connection pool. More info: http://pris.ly/d/connection-pool (Current connection pool timeout: 10, connection limit: 5)",
    ),
    symptom(
        "node.pool_acquire_timeout",
        Family::DbSaturated,
        r"Knex: Timeout acquiring a connection|\bSequelizeConnectionAcquireTimeoutError\b",
        "https://github.com/knex/knex/blob/master/lib/client.js",
        "KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?",
    ),
    symptom(
        "npgsql.pool_exhausted",
        Family::DbSaturated,
        r"The connection pool has been exhausted",
        "https://www.npgsql.org/doc/connection-string-parameters.html#pooling",
        "Npgsql.NpgsqlException (0x80004005): The connection pool has been exhausted, either raise 'Max Pool Size' (currently 100) or 'Timeout' (currently 15 seconds) in your connection string.",
    ),
    symptom(
        "sqlclient.pool_timeout",
        Family::DbSaturated,
        r"prior to obtaining a connection from the pool",
        "https://learn.microsoft.com/en-us/dotnet/framework/data/adonet/sql-server-connection-pooling",
        "System.InvalidOperationException: Timeout expired.  The timeout period elapsed prior to obtaining a connection from the pool.  This may have occurred because all pooled connections were in use and max pool size was reached.",
    ),
    symptom(
        "pgbouncer.query_wait_timeout",
        Family::DbSaturated,
        r"ERROR:?\s+query_wait_timeout|pooler error: query_wait_timeout",
        "https://www.pgbouncer.org/config.html",
        "ERROR: query_wait_timeout",
    ),
    symptom(
        // The query ran too long; the line does not say why (load, locks, a missing index).
        "postgres.statement_timeout",
        Family::DbSaturated,
        r"canceling statement due to statement timeout",
        SRC_PG_POSTGRES_C,
        "ERROR:  canceling statement due to statement timeout",
    ),
    symptom(
        "mysql.max_execution_time",
        Family::DbSaturated,
        r"maximum statement execution time exceeded",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 3024 (HY000): Query execution was interrupted, maximum statement execution time exceeded",
    ),
    symptom(
        "postgres.recovery_conflict",
        Family::DbSaturated,
        r"canceling statement due to conflict with recovery",
        SRC_PG_POSTGRES_C,
        "ERROR:  canceling statement due to conflict with recovery",
    ),
    symptom(
        "redis.busy_script",
        Family::DbSaturated,
        r"BUSY Redis is busy running a script",
        SRC_REDIS_SERVER_C,
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    ),
    symptom(
        "dynamodb.transaction_conflict",
        Family::DbSaturated,
        r"\bTransactionConflict\b",
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html",
        "TransactionCanceledException: Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
    ),
    // ---- OutOfMemory symptoms: SIGKILL seen, memory not named -------------------------
    symptom(
        // Lambda writes this when the sandbox kills the runtime; AWS documents it as the usual
        // sign of exceeding the memory setting, but the line itself only says "killed".
        "lambda.signal_killed",
        Family::OutOfMemory,
        r"Runtime exited with error: signal: killed",
        "https://repost.aws/knowledge-center/lambda-runtime-error",
        "RequestId: 5b4c2f6e-1d2a-4c1e-9f0a-0c8a3b1d2e4f Error: Runtime exited with error: signal: killed Runtime.ExitError",
    ),
    symptom(
        "gunicorn.worker_sigkill",
        Family::OutOfMemory,
        r"was sent SIGKILL! Perhaps out of memory\?",
        "https://github.com/benoitc/gunicorn/blob/master/gunicorn/arbiter.py",
        "[2024-05-01 10:00:00 +0000] [1] [ERROR] Worker (pid:42) was sent SIGKILL! Perhaps out of memory?",
    ),
    symptom(
        // 137 = 128 + SIGKILL: usually the memory limit, but also a stop timeout.
        "container.exit_137",
        Family::OutOfMemory,
        r#"(?i)\bexit(?:ed)?(?: with)? (?:code|status)[:= ]*137\b|"exitCode"\s*:\s*137\b"#,
        "https://docs.docker.com/engine/containers/run/#exit-status",
        "web-1 exited with code 137",
    ),
    // ---- CpuStarved symptoms ----------------------------------------------------------
    symptom(
        // The worker did not answer the arbiter in time: CPU starvation or a blocking call.
        "gunicorn.worker_timeout",
        Family::CpuStarved,
        r"\[CRITICAL\] WORKER TIMEOUT",
        "https://github.com/benoitc/gunicorn/blob/master/gunicorn/arbiter.py",
        "[2024-05-01 10:00:00 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:42)",
    ),
    symptom(
        "uwsgi.harakiri",
        Family::CpuStarved,
        r"HARAKIRI ON WORKER|HARAKIRI triggered",
        "https://uwsgi-docs.readthedocs.io/en/latest/Options.html#harakiri",
        "*** HARAKIRI ON WORKER 3 (pid: 1234, try: 1) ***",
    ),
    // ---- InstanceLost symptoms --------------------------------------------------------
    symptom(
        // A hung task (D state) usually waits on a stalled block device: the host is degrading.
        "linux.hung_task",
        Family::InstanceLost,
        r"INFO: task \S+ blocked for more than \d+ seconds",
        "https://github.com/torvalds/linux/blob/master/kernel/hung_task.c",
        "[ 3600.123456] INFO: task java:1234 blocked for more than 120 seconds.",
    ),
    symptom(
        "redis.loading",
        Family::InstanceLost,
        r"LOADING Redis is loading the dataset in memory",
        SRC_REDIS_SERVER_C,
        "redis.exceptions.BusyLoadingError: LOADING Redis is loading the dataset in memory",
    ),
    symptom(
        // A write reached a node that is now a replica: the usual trace of a failover.
        "redis.readonly_replica",
        Family::InstanceLost,
        r"READONLY You can't write against a read only replica",
        SRC_REDIS_SERVER_C,
        "redis.exceptions.ReadOnlyError: READONLY You can't write against a read only replica.",
    ),
    symptom(
        "redis.cluster_or_master_down",
        Family::InstanceLost,
        r"CLUSTERDOWN The cluster is down|MASTERDOWN Link with MASTER is down",
        SRC_REDIS_SERVER_C,
        "CLUSTERDOWN The cluster is down",
    ),
    symptom(
        "mysql.read_only",
        Family::InstanceLost,
        r"running with the --read-only option so it cannot execute this statement",
        SRC_MYSQL_SERVER_ERRORS,
        "ERROR 1290 (HY000): The MySQL server is running with the --read-only option so it cannot execute this statement",
    ),
    symptom(
        "postgres.read_only_transaction",
        Family::InstanceLost,
        r"cannot execute \w+ in a read-only transaction",
        SRC_PG_ERRCODES,
        "ERROR:  cannot execute INSERT in a read-only transaction",
    ),
    symptom(
        "ec2.rebalance_recommendation",
        Family::InstanceLost,
        r"EC2 Instance Rebalance Recommendation",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html",
        r#"{"version":"0","detail-type":"EC2 Instance Rebalance Recommendation","source":"aws.ec2","region":"us-east-1","detail":{"instance-id":"i-1234567890abcdef0"}}"#,
    ),
    // ---- AccessDenied symptoms: denied, without saying which change caused it ---------
    symptom(
        "aws.not_authorized_to_perform",
        Family::AccessDenied,
        r"is not authorized to perform:? |\bUnauthorizedOperation\b|\bAuthFailure\b",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html",
        "User: arn:aws:sts::123456789012:assumed-role/app-task-role/abc is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::assets/config.json because no identity-based policy allows the s3:GetObject action",
    ),
    symptom(
        "aws.access_denied",
        Family::AccessDenied,
        r"(?i)\baccess ?denied(?:exception)?\b|\bKMSAccessDeniedException\b",
        "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html",
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
    ),
    symptom(
        "ecs.unable_to_assume_role",
        Family::AccessDenied,
        r"ECS was unable to assume the role",
        SRC_ECS_SERVICE_EVENTS,
        "service web failed to launch a task with (error ECS was unable to assume the role 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.)",
    ),
    symptom(
        "http.403_forbidden",
        Family::AccessDenied,
        r#"\b403 Forbidden\b|Status Code: 403\b|"status(?:Code|_code)?"\s*:\s*403\b"#,
        "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html",
        "software.amazon.awssdk.services.s3.model.S3Exception: Access Denied (Service: S3, Status Code: 403, Request ID: 4XYZ)",
    ),
    // ---- Throttled symptoms -----------------------------------------------------------
    symptom(
        // A 429 says the request was rate-limited somewhere, not which quota or caller.
        "http.429_too_many_requests",
        Family::Throttled,
        r#"(?i:\btoo many requests\b)|HTTP/\d(?:\.\d)?" 429\b|"status(?:Code|_code)?"\s*:\s*429\b|\bstatus(?:_code|Code)?=429\b"#,
        "https://www.rfc-editor.org/rfc/rfc6585#section-4",
        "HTTP/1.1 429 Too Many Requests",
    ),
    symptom(
        // LimitExceededException is a throttle for some APIs and a resource quota for others.
        "aws.limit_exceeded",
        Family::Throttled,
        r#"\bLimitExceededException\b|"message"\s*:\s*"Limit Exceeded""#,
        SRC_SDK_THROTTLE,
        "An error occurred (LimitExceededException) when calling the PutRule operation: The requested resource exceeds the maximum number allowed.",
    ),
    // ---- CertExpired symptoms: handshake failed, certificate not named -----------------
    symptom(
        "tls.handshake_failed",
        Family::CertExpired,
        r"SSL_do_handshake\(\) failed|\bSSLHandshakeException\b|(?i:SSL handshake failed)|tls: handshake failure|The SSL connection could not be established|\bSSLError\b",
        "https://learn.microsoft.com/en-us/dotnet/api/system.net.http.httprequestexception",
        "System.Net.Http.HttpRequestException: The SSL connection could not be established, see inner exception.",
    ),
    // ---- Capacity symptoms -------------------------------------------------------------
    symptom(
        "autoscaling.launch_failed",
        Family::Capacity,
        r"Launching a new EC2 instance\.?\s+Status Reason:|Launching EC2 instance failed|EC2 Instance Launch Unsuccessful",
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-capacity.html",
        r#"{"version":"0","detail-type":"EC2 Instance Launch Unsuccessful","source":"aws.autoscaling","region":"us-east-1","detail":{"StatusCode":"Failed","AutoScalingGroupName":"asg-1","Description":"Launching a new EC2 instance.  Status Reason: Your requested instance type is not supported in your requested Availability Zone. Launching EC2 instance failed."}}"#,
    ),
    symptom(
        "ecs.eni_provisioning_timeout",
        Family::Capacity,
        r"Timeout waiting for network interface provisioning to complete",
        SRC_ECS_STOPPED,
        "Timeout waiting for network interface provisioning to complete.",
    ),
    // ---- Connectivity symptoms: runtime- and proxy-specific ----------------------------
    symptom(
        "nginx.upstream_timed_out",
        Family::Connectivity,
        r"upstream timed out \(\d+: [^)]*\) while",
        SRC_NGINX_UPSTREAM,
        "2024/05/01 10:00:00 [error] 23#23: *812 upstream timed out (110: Connection timed out) while connecting to upstream, client: 10.0.0.9, server: _, request: \"GET /api/orders HTTP/1.1\", upstream: \"http://10.0.2.15:8080/api/orders\"",
    ),
    symptom(
        "nginx.upstream_connect_failed",
        Family::Connectivity,
        r"connect\(\) failed \(\d+: [^)]*\) while connecting to upstream",
        SRC_NGINX_UPSTREAM,
        "2024/05/01 10:00:00 [error] 23#23: *813 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.9, server: _, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.2.15:8080/\"",
    ),
    symptom(
        "nginx.no_live_upstreams",
        Family::Connectivity,
        r"no live upstreams while connecting to upstream",
        SRC_NGINX_UPSTREAM,
        "2024/05/01 10:00:00 [error] 23#23: *814 no live upstreams while connecting to upstream, client: 10.0.0.9, server: _, request: \"GET / HTTP/1.1\", upstream: \"http://backend/\"",
    ),
    symptom(
        "nginx.upstream_prematurely_closed",
        Family::Connectivity,
        r"upstream prematurely closed connection",
        SRC_NGINX_UPSTREAM,
        "2024/05/01 10:00:00 [error] 23#23: *815 upstream prematurely closed connection while reading response header from upstream, client: 10.0.0.9",
    ),
    symptom(
        "envoy.upstream_connect_error",
        Family::Connectivity,
        r"upstream connect error or disconnect/reset before headers|\bno healthy upstream\b|\bupstream request timeout\b",
        "https://github.com/envoyproxy/envoy/blob/main/source/common/router/router.cc",
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: delayed connect error: 111",
    ),
    symptom(
        "haproxy.server_down",
        Family::Connectivity,
        r"is DOWN, reason: Layer[4-7]|has no server available!|No server is available to handle this request",
        "https://docs.haproxy.org/2.8/configuration.html",
        "[WARNING] (8) : Server be_app/app1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left.",
    ),
    symptom(
        "elb.target_health_check_failed",
        Family::Connectivity,
        r"Task failed ELB health checks|is unhealthy in \(target-group|\s-1 -1 -1 50[234] -\s",
        SRC_ECS_SERVICE_EVENTS,
        "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-web/73e2d6bc24d8a067)",
    ),
    symptom(
        "apigateway.endpoint_timeout",
        Family::Connectivity,
        r"Endpoint request timed out|Execution failed due to a timeout error",
        "https://repost.aws/knowledge-center/api-gateway-504-errors",
        "(5a1c2b3d-1234-4abc-9def-0123456789ab) Execution failed due to a timeout error",
    ),
    symptom(
        "lambda.task_timed_out",
        Family::Connectivity,
        r"Task timed out after [\d.]+ seconds",
        SRC_LAMBDA_TROUBLESHOOT,
        "2024-05-01T10:00:03.012Z 5b4c2f6e-1d2a-4c1e-9f0a-0c8a3b1d2e4f Task timed out after 3.00 seconds",
    ),
    symptom(
        "jvm.socket_timeout",
        Family::Connectivity,
        r"\bjava\.net\.SocketTimeoutException\b|\bConnectTimeoutException\b",
        "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/java/net/SocketTimeoutException.html",
        "java.net.SocketTimeoutException: Read timed out",
    ),
    symptom(
        "jvm.connect_exception",
        Family::Connectivity,
        r"\bjava\.net\.(?:ConnectException|NoRouteToHostException)\b|\bHttpHostConnectException\b|\bjava\.net\.SocketException: (?:Connection reset|Broken pipe)|Communications link failure",
        "https://docs.oracle.com/en/java/javase/17/docs/api/java.base/java/net/ConnectException.html",
        "java.net.ConnectException: Connection refused",
    ),
    symptom(
        "python.requests_timeout",
        Family::Connectivity,
        r"\brequests\.exceptions\.(?:ConnectTimeout|ReadTimeout|Timeout)\b|\bReadTimeoutError\b|\bConnectTimeoutError\b|\bhttpx\.(?:ConnectTimeout|ReadTimeout|PoolTimeout)\b",
        "https://requests.readthedocs.io/en/latest/api/#exceptions",
        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.example.com', port=443): Read timed out. (read timeout=10)",
    ),
    symptom(
        "python.connection_error",
        Family::Connectivity,
        r"\brequests\.exceptions\.ConnectionError\b|\bNewConnectionError\b|Failed to establish a new connection|Max retries exceeded with url|\bRemoteDisconnected\b|\bConnection(?:Refused|Reset|Aborted)Error\b|\bhttpx\.ConnectError\b|\bClientConnectorError\b",
        "https://docs.python.org/3/library/exceptions.html#ConnectionRefusedError",
        "urllib3.exceptions.NewConnectionError: <urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused",
    ),
    symptom(
        "ruby.net_timeout",
        Family::Connectivity,
        r"\bNet::(?:ReadTimeout|OpenTimeout|WriteTimeout)\b|\bFaraday::(?:ConnectionFailed|TimeoutError)\b|\bRedis::(?:CannotConnectError|TimeoutError)\b|\bPG::ConnectionBad\b|\bActiveRecord::ConnectionNotEstablished\b",
        "https://docs.ruby-lang.org/en/master/Net/ReadTimeout.html",
        "Net::ReadTimeout: Net::ReadTimeout with #<TCPSocket:(closed)>",
    ),
    symptom(
        "node.socket_error",
        Family::Connectivity,
        r"\b(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNABORTED|EPIPE)\b|socket hang up|\bUND_ERR_(?:CONNECT_TIMEOUT|HEADERS_TIMEOUT|SOCKET)\b|TypeError: fetch failed",
        SRC_NODE_SYSERR,
        "Error: connect ECONNREFUSED 10.0.1.23:5432",
    ),
    symptom(
        "go.dial_timeout",
        Family::Connectivity,
        r"dial tcp \S*: i/o timeout|\bi/o timeout\b|TLS handshake timeout",
        "https://github.com/golang/go/blob/master/src/internal/poll/fd.go",
        "dial tcp 10.0.1.23:5432: i/o timeout",
    ),
    symptom(
        "go.context_deadline_exceeded",
        Family::Connectivity,
        r"context deadline exceeded|Client\.Timeout exceeded|net/http: request canceled",
        "https://pkg.go.dev/context#pkg-variables",
        r#"Post "https://api.example.com/v1/charge": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"#,
    ),
    symptom(
        "grpc.unavailable",
        Family::Connectivity,
        r"rpc error: code = (?:Unavailable|DeadlineExceeded)",
        "https://grpc.io/docs/guides/status-codes/",
        "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 10.0.3.4:50051: connect: connection refused\"",
    ),
    symptom(
        "dotnet.http_request_exception",
        Family::Connectivity,
        r"\bSystem\.Net\.Http\.HttpRequestException\b|\bSystem\.Net\.Sockets\.SocketException\b|HttpClient\.Timeout of [\d.]+ seconds elapsing|forcibly closed by the remote host|connected party did not properly respond",
        "https://learn.microsoft.com/en-us/dotnet/api/system.net.http.httpclient.timeout",
        "System.Threading.Tasks.TaskCanceledException: The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing.",
    ),
    symptom(
        "db.connection_lost",
        Family::Connectivity,
        r"server closed the connection unexpectedly|could not connect to server|Is the server running on host|Lost connection to MySQL server|MySQL server has gone away|Can't connect to MySQL server",
        "https://dev.mysql.com/doc/refman/8.0/en/gone-away.html",
        "ERROR 2006 (HY000): MySQL server has gone away",
    ),
    symptom(
        "redis.connection_error",
        Family::Connectivity,
        r"\bredis\.exceptions\.(?:ConnectionError|TimeoutError)\b|Error \d+ connecting to \S+:\d+",
        "https://redis-py.readthedocs.io/en/stable/exceptions.html",
        "redis.exceptions.TimeoutError: Timeout reading from socket",
    ),
    symptom(
        "circuit_breaker.open",
        Family::Connectivity,
        r"(?i)\bcircuit ?breaker\b.*\bis (?:now )?open\b|\bCallNotPermittedException\b|\bBrokenCircuitException\b|short-circuited and is OPEN|\bBreaker is open\b",
        "https://resilience4j.readme.io/docs/circuitbreaker",
        "io.github.resilience4j.circuitbreaker.CallNotPermittedException: CircuitBreaker 'payments' is OPEN and does not permit further calls",
    ),
    // ---- CodeError symptoms: something was not handled; the reason may be elsewhere ----
    symptom(
        "node.unhandled_rejection",
        Family::CodeError,
        r"\bUnhandledPromiseRejection\b|\bERR_UNHANDLED_REJECTION\b",
        "https://nodejs.org/api/errors.html#err_unhandled_rejection",
        "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"undefined\".] { code: 'ERR_UNHANDLED_REJECTION' }",
    ),
    symptom(
        "python.traceback",
        Family::CodeError,
        r"Traceback \(most recent call last\):",
        "https://docs.python.org/3/library/traceback.html",
        "Traceback (most recent call last):",
    ),
    symptom(
        "generic.unhandled_exception",
        Family::CodeError,
        r"(?i)\bunhandled exception\b|\buncaught exception\b|\bUncaughtException\b|Exception in thread ",
        "https://learn.microsoft.com/en-us/dotnet/api/system.appdomain.unhandledexception",
        "Unhandled exception. System.InvalidOperationException: Sequence contains no elements",
    ),
    symptom(
        "go.panic",
        Family::CodeError,
        r"^panic: |\bgoroutine \d+ \[running\]:",
        "https://go.dev/ref/spec#Run_time_panics",
        "panic: unexpected status from payments: 500",
    ),
    symptom(
        "lambda.runtime_exit_error",
        Family::CodeError,
        r"\bRuntime\.ExitError\b|Runtime exited with error: exit status \d+|Process exited before completing request",
        "https://repost.aws/knowledge-center/lambda-runtime-error",
        r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1234aa1b-cd50-6c78-90cd-ce1234ce9950 Error: Runtime exited with error: exit status 129"}"#,
    ),
    // ---- BadConfig symptoms: a release that does not come up; the reason follows -------
    symptom(
        "ecs.resource_initialization_error",
        Family::BadConfig,
        r"\bResourceInitializationError\b",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html",
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: RequestError: send request failed",
    ),
    symptom(
        "ecs.cannot_pull_container",
        Family::BadConfig,
        r"\bCannotPullContainerError\b",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html",
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/web:latest: failed to do request",
    ),
    symptom(
        "ecs.cannot_start_container",
        Family::BadConfig,
        r"\bCannotStartContainerError\b|\bCannotCreateContainerError\b",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html",
        "CannotStartContainerError: Error response from daemon: failed to create shim task: OCI runtime create failed",
    ),
    symptom(
        "ecs.deployment_failed",
        Family::BadConfig,
        r"\bSERVICE_DEPLOYMENT_FAILED\b|deployment circuit breaker|deployment \S+ deployment failed|rolling back to deployment",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html",
        r#"{"version":"0","detail-type":"ECS Deployment State Change","source":"aws.ecs","region":"us-east-1","detail":{"eventType":"ERROR","eventName":"SERVICE_DEPLOYMENT_FAILED","deploymentId":"ecs-svc/1234567890123456789","reason":"ECS deployment circuit breaker: tasks failed to start."}}"#,
    ),
    symptom(
        "spring.application_failed_to_start",
        Family::BadConfig,
        r"APPLICATION FAILED TO START|Application run failed",
        "https://docs.spring.io/spring-boot/reference/features/spring-application.html#features.spring-application.startup-failure",
        "APPLICATION FAILED TO START",
    ),
    // ---- Other symptoms: something stopped, no family named ----------------------------
    symptom(
        "ecs.essential_container_exited",
        Family::Other,
        r#"Essential container in task exited|"stopCode"\s*:\s*"(?:EssentialContainerExited|TaskFailedToStart)""#,
        SRC_ECS_STOPPED,
        "Essential container in task exited",
    ),
    symptom(
        "ecs.task_start_impaired",
        Family::Other,
        r"\bSERVICE_TASK_START_IMPAIRED\b|is unable to consistently start tasks successfully|Task failed container health checks",
        SRC_ECS_SERVICE_EVENTS,
        "service web is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.",
    ),
    // ---- Generic symptoms: last ----------------------------------------------------------
    symptom(
        "http.gateway_5xx",
        Family::Connectivity,
        r#"\b50[234] (?:Bad Gateway|Service Unavailable|Gateway Time-?out)\b|\b(?:Bad Gateway|Service Unavailable|Gateway Time-?out)\b|HTTP/\d(?:\.\d)?" 50[234]\b|"status(?:Code|_code)?"\s*:\s*50[234]\b|\bstatus(?:_code|Code)?=50[234]\b|Status Code: 50[234]\b"#,
        "https://www.rfc-editor.org/rfc/rfc9110#section-15.6",
        r#"10.0.0.9 - - [01/May/2024:10:00:00 +0000] "GET /api/orders HTTP/1.1" 502 157 "-" "curl/8.5.0""#,
    ),
    symptom(
        "http.server_5xx",
        Family::Other,
        r#"\b500 Internal Server Error\b|\bInternal Server Error\b|HTTP/\d(?:\.\d)?" 5\d\d\b|"status(?:Code|_code)?"\s*:\s*5\d\d\b|\bstatus(?:_code|Code)?=5\d\d\b"#,
        "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.1",
        r#"10.0.0.9 - - [01/May/2024:10:00:00 +0000] "POST /api/orders HTTP/1.1" 500 21 "-" "okhttp/4.12.0""#,
    ),
    symptom(
        "generic.connection_refused",
        Family::Connectivity,
        r"(?i)\bconnection refused\b",
        "https://man7.org/linux/man-pages/man2/connect.2.html",
        "dial tcp 10.0.1.23:6379: connect: connection refused",
    ),
    symptom(
        "generic.connection_reset",
        Family::Connectivity,
        r"(?i)\bconnection reset(?: by peer)?\b|\bbroken pipe\b",
        "https://man7.org/linux/man-pages/man3/errno.3.html",
        "read tcp 10.0.0.5:51234->10.0.1.23:6379: read: connection reset by peer",
    ),
    symptom(
        "generic.unreachable",
        Family::Connectivity,
        r"(?i)\bno route to host\b|\bnetwork is unreachable\b|\bhost is unreachable\b",
        "https://man7.org/linux/man-pages/man3/errno.3.html",
        "dial tcp 10.0.1.23:443: connect: no route to host",
    ),
    symptom(
        "generic.connection_closed",
        Family::Connectivity,
        r"(?i)\bconnection (?:was |has been )?closed (?:unexpectedly|prematurely|by (?:the )?(?:peer|remote host|remote|server|foreign host|upstream))\b|\bconnection closed before\b",
        "https://man7.org/linux/man-pages/man2/recv.2.html",
        "ERROR: connection closed unexpectedly by peer",
    ),
    symptom(
        // Matches the verbs only: `timeout=30s` or `read_timeout: 5` configuration prints do not.
        "generic.timed_out",
        Family::Connectivity,
        r"(?i)\btimed out\b|\btime-out\b|\btimeout (?:error|exceeded|expired|occurred|while|after|waiting|reading|connecting|awaiting)\b|\b[A-Za-z]*Timeout(?:Exception|Error)\b",
        "https://man7.org/linux/man-pages/man3/errno.3.html",
        "ERROR upstream call failed: operation timed out after 5000 ms",
    ),
    symptom(
        "generic.retrying",
        Family::Connectivity,
        r"(?i)\bretrying\b|\bwill retry\b|\bretry attempt \d+",
        "https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html",
        "WARN request to payments failed, retrying in 2s (attempt 3/5)",
    ),
];

/// The compiled table: a [`RegexSet`] for one pass over a line, plus each row's own regex for
/// the span of the match.
pub struct Compiled {
    pub set: RegexSet,
    pub regexes: Vec<Regex>,
}

/// Compile limit: the set holds every row; leave room for Unicode classes under `(?i)`.
const SIZE_LIMIT: usize = 64 << 20;

/// `pattern` with its word boundaries made ASCII (`\b` → `(?-u:\b)`). A Unicode word boundary
/// stops the regex crate's fast DFA at the first non-ASCII byte of a line (an ellipsis, an
/// accented name), and a set of 200 patterns then runs on the slow NFA: 100 times slower. The
/// error texts the rows match are ASCII, so an ASCII boundary finds the same matches.
fn ascii_boundaries(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push_str("(?-u:\\b)"),
            Some('B') => out.push_str("(?-u:\\B)"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A text that contains failure words but is documented as routine: a line matching one of
/// these is not classified at all, whatever rows of [`SIGNATURES`] it also matches.
#[derive(Debug)]
pub struct NotAFailure {
    pub id: &'static str,
    pub pattern: &'static str,
    /// Where the text is documented as routine.
    pub source: &'static str,
    pub example: &'static str,
}

pub static NOT_FAILURES: &[NotAFailure] = &[NotAFailure {
    // MySQL resolves each client's address to a name for its host cache and warns when the
    // reverse lookup fails; the connection goes on (`skip_name_resolve` turns the lookups off).
    // It is about a client's PTR record, not a name this service failed to resolve.
    id: "mysql.client_reverse_dns_warning",
    pattern: r"IP address '[^']*' could not be resolved",
    source: "https://dev.mysql.com/doc/refman/8.0/en/host-cache.html",
    example: "2026-11-29T21:42:01.123456Z 912 [Warning] [MY-010055] [Server] IP address '10.0.4.17' could not be resolved: Name or service not known",
}];

static NOT_FAILURE_SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(NOT_FAILURES.iter().map(|n| ascii_boundaries(n.pattern)))
        .unwrap_or_else(|e| panic!("routine-text table does not compile: {e}"))
});

pub static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let set = RegexSetBuilder::new(SIGNATURES.iter().map(|s| ascii_boundaries(s.pattern)))
        .size_limit(SIZE_LIMIT)
        .build()
        .unwrap_or_else(|e| panic!("signature table does not compile: {e}"));
    let regexes = SIGNATURES
        .iter()
        .map(|s| {
            regex::RegexBuilder::new(&ascii_boundaries(s.pattern))
                .size_limit(SIZE_LIMIT)
                .build()
                .unwrap_or_else(|e| panic!("signature {} does not compile: {e}", s.id))
        })
        .collect();
    Compiled { set, regexes }
});

/// The best signature of `line`: the first matching Cause row in table order, else the first
/// matching Symptom row; with the byte span of that row's match in the line.
pub fn classify(line: &str) -> Option<(&'static Signature, (usize, usize))> {
    let compiled = &*COMPILED;
    let matches = compiled.set.matches(line);
    if !matches.matched_any() || NOT_FAILURE_SET.is_match(line) {
        return None;
    }
    let pick = matches
        .iter()
        .find(|&i| SIGNATURES[i].role == Role::Cause)
        .or_else(|| {
            matches
                .iter()
                .find(|&i| SIGNATURES[i].role == Role::Symptom)
        })?;
    let m = compiled.regexes[pick].find(line)?;
    Some((&SIGNATURES[pick], (m.start(), m.end())))
}

/// Whether any row matches `line` (one pass of the set, without finding which): the cheap test
/// for a reader that only keeps or drops lines.
pub fn is_match(line: &str) -> bool {
    COMPILED.set.is_match(line) && !NOT_FAILURE_SET.is_match(line)
}

/// Every row that matches `line`, in table order (for explanations and debugging).
pub fn matching(line: &str) -> Vec<&'static Signature> {
    COMPILED
        .set
        .matches(line)
        .iter()
        .map(|i| &SIGNATURES[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_become_ascii_and_escapes_stay() {
        assert_eq!(ascii_boundaries(r"\bOOM\b"), r"(?-u:\b)OOM(?-u:\b)");
        assert_eq!(ascii_boundaries(r"a\\b\d\B"), r"a\\b\d(?-u:\B)");
        // Lines with non-ASCII characters classify as their ASCII part says.
        let (s, _) =
            classify("…Out of memory: Killed process 4242 (java) — café").expect("classified");
        assert_eq!(s.family, Family::OutOfMemory);
    }
    use std::collections::HashSet;

    fn family(line: &str) -> Option<Family> {
        classify(line).map(|(s, _)| s.family)
    }

    #[test]
    fn every_pattern_compiles() {
        for s in SIGNATURES {
            regex::RegexBuilder::new(s.pattern)
                .size_limit(SIZE_LIMIT)
                .build()
                .unwrap_or_else(|e| panic!("{}: {e}", s.id));
        }
        assert_eq!(COMPILED.set.len(), SIGNATURES.len());
        assert_eq!(COMPILED.regexes.len(), SIGNATURES.len());
    }

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for s in SIGNATURES {
            assert!(seen.insert(s.id), "duplicate id {}", s.id);
            let (area, what) =
                s.id.split_once('.')
                    .unwrap_or_else(|| panic!("bad id {}", s.id));
            let ok = |p: &str| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            };
            assert!(ok(area) && ok(what), "bad id {}", s.id);
            assert!(
                s.source.starts_with("https://"),
                "{}: source is not a URL",
                s.id
            );
            assert!(!s.example.is_empty(), "{}: no example", s.id);
        }
    }

    #[test]
    fn every_example_matches_its_row_and_classifies_to_its_family() {
        for (i, s) in SIGNATURES.iter().enumerate() {
            assert!(
                COMPILED.regexes[i].is_match(s.example),
                "{}: pattern does not match its own example",
                s.id
            );
            let (got, span) =
                classify(s.example).unwrap_or_else(|| panic!("{}: example unclassified", s.id));
            assert_eq!(
                got.family, s.family,
                "{}: example classified as {:?} by {}",
                s.id, got.family, got.id
            );
            if s.role == Role::Cause {
                assert_eq!(
                    got.role,
                    Role::Cause,
                    "{}: cause example won by symptom {}",
                    s.id,
                    got.id
                );
            }
            assert!(
                span.0 < span.1 && span.1 <= s.example.len(),
                "{}: bad span",
                s.id
            );
        }
    }

    #[test]
    fn routine_texts_are_not_failures_though_rows_match_them() {
        for n in NOT_FAILURES {
            assert!(
                !matching(n.example).is_empty(),
                "{}: no row matches the example, so the entry is not needed",
                n.id
            );
            assert!(classify(n.example).is_none(), "{}", n.id);
            assert!(!is_match(n.example), "{}", n.id);
        }
        // The same words in a real failure are still one.
        assert!(classify("socket.gaierror: [Errno -2] Name or service not known").is_some());
    }

    #[test]
    fn benign_lines_are_unclassified() {
        for line in [
            "healthcheck ok",
            "GET /api/errors 200",
            r#"10.0.0.9 - - [01/May/2024:10:00:00 +0000] "GET /api/errors HTTP/1.1" 200 512 "-" "ELB-HealthChecker/2.0""#,
            "timeout=30s configured",
            "read_timeout: 5 connect_timeout: 2",
            "retries=0 errors=0",
            "error_count=0",
            "0 errors, 0 warnings",
            "INFO request completed in 120ms",
            "Starting worker pid=42",
            "[2024-05-01 10:00:00 +0000] [42] [INFO] Booting worker with pid: 42",
            "INFO Listening at: http://0.0.0.0:8000 (1)",
            "circuit breaker state=CLOSED",
            "DEBUG connection pool initialised size=10 max=20",
            "Retry policy: max_attempts=3 backoff=exponential",
            "INFO connected to db.internal:5432",
            "TLS certificate valid until 2027-01-01",
            "service web has reached a steady state.",
            "INFO: task scheduler started",
            "memory usage 512MiB of 1024MiB",
            r#"{"level":"info","msg":"request ok","status":200,"duration_ms":12}"#,
        ] {
            assert_eq!(
                classify(line).map(|(s, _)| s.id),
                None,
                "benign line classified: {line}"
            );
        }
    }

    #[test]
    fn cross_family_checks() {
        assert_eq!(
            family("HikariPool-1 - Connection is not available, request timed out after 30000ms."),
            Some(Family::DbSaturated)
        );
        assert_eq!(
            family("x509: certificate has expired or is not yet valid"),
            Some(Family::CertExpired)
        );
        assert_eq!(
            family(
                r#"Get "https://api.x": x509: certificate has expired or is not yet valid: current time 2024-05-01T10:00:00Z is after 2024-04-30T23:59:59Z"#
            ),
            Some(Family::CertExpired)
        );
        assert_eq!(
            family("dial tcp: lookup api.x on 10.0.0.2:53: no such host"),
            Some(Family::Dns)
        );
        assert_eq!(
            family(
                r#"Get "https://api.x/v1": dial tcp: lookup api.x on 10.0.0.2:53: no such host"#
            ),
            Some(Family::Dns)
        );
        // A refused connection wrapped in a Node unhandled rejection: the refusal is the better
        // lead, both are symptoms, and the connectivity row comes first.
        assert_eq!(
            family(
                r#"[UnhandledPromiseRejection: The promise rejected with the reason "Error: connect ECONNREFUSED 10.0.1.23:5432".]"#
            ),
            Some(Family::Connectivity)
        );
        // The reason after an ECS wrapper decides the family.
        assert_eq!(
            family("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/exec/abc is not authorized to perform: secretsmanager:GetSecretValue"),
            Some(Family::AccessDenied)
        );
        assert_eq!(
            family("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.x', port=443): Max retries exceeded with url: /v1 (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve 'api.x' ([Errno -3] Temporary failure in name resolution)\"))"),
            Some(Family::Dns)
        );
        assert_eq!(
            family(
                r#"com.mysql.cj.jdbc.exceptions.CommunicationsException: Data source rejected establishment of connection,  message from server: "Too many connections""#
            ),
            Some(Family::DbSaturated)
        );
        assert_eq!(
            family("botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling the Decrypt operation: Rate exceeded"),
            Some(Family::Throttled)
        );
        assert_eq!(family("KeyError: 'DATABASE_URL'"), Some(Family::BadConfig));
        assert_eq!(family("KeyError: 'user_id'"), Some(Family::CodeError));
        assert_eq!(
            family("2024/05/01 10:00:00 [crit] 23#23: *1 pwrite() \"/var/cache/nginx/client_temp/0000000001\" failed (28: No space left on device)"),
            Some(Family::StorageFull)
        );
        assert_eq!(
            family("psycopg2.OperationalError: FATAL:  sorry, too many clients already"),
            Some(Family::DbSaturated)
        );
        assert_eq!(
            family("[2024-05-01 10:00:00 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:42)"),
            Some(Family::CpuStarved)
        );
    }

    #[test]
    fn cause_beats_symptom_and_roles_are_reported() {
        // Both an access denial (symptom) and an expired token (cause) in one line.
        let (s, _) = classify(
            "AccessDenied: ExpiredToken: The security token included in the request is expired",
        )
        .expect("classified");
        assert_eq!((s.family, s.role), (Family::AccessDenied, Role::Cause));
        let (s, _) = classify(
            "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
        )
        .expect("classified");
        assert_eq!((s.family, s.role), (Family::AccessDenied, Role::Symptom));
        let (s, _) = classify("ERROR 1040 (HY000): Too many connections").expect("classified");
        assert_eq!((s.family, s.role), (Family::DbSaturated, Role::Cause));
        let (s, _) =
            classify("java.net.SocketTimeoutException: Read timed out").expect("classified");
        assert_eq!((s.family, s.role), (Family::Connectivity, Role::Symptom));
        let (s, _) = classify("[2024-05-01 10:00:00 +0000] [1] [ERROR] Worker (pid:42) was sent SIGKILL! Perhaps out of memory?").expect("classified");
        assert_eq!((s.family, s.role), (Family::OutOfMemory, Role::Symptom));
    }

    #[test]
    fn span_points_at_the_matched_text() {
        let line = "2024-05-01T10:00:00Z ERROR db: ERROR 1040 (HY000): Too many connections";
        let (s, (a, b)) = classify(line).expect("classified");
        assert_eq!(s.id, "mysql.too_many_connections");
        assert_eq!(&line[a..b], "Too many connections");
    }

    #[test]
    fn matching_lists_rows_in_table_order() {
        let rows = matching("Error: getaddrinfo ENOTFOUND api.x, retrying");
        let ids: Vec<_> = rows.iter().map(|s| s.id).collect();
        assert_eq!(ids, ["node.getaddrinfo", "generic.retrying"]);
    }
}
