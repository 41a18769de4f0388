//! The agent's on-disk spool (sled): evidence waiting for the control plane, and what the agent
//! remembers about alarms.
//!
//! # Guarantees
//!
//! - **Ordering.** Frames get consecutive sequence numbers from one counter; the outbox is keyed
//!   by the big-endian sequence number, so iteration order is send order.
//! - **Durability.** [`Spool::push`] returns only after the frame, the advanced counter and the
//!   alarm memo are written in one sled transaction and flushed to disk (sled's synchronous
//!   `flush`, one at a time, on the blocking pool: its `flush_async` can hang under concurrency).
//!   A process killed at any point keeps every frame whose push returned, in order, and nothing
//!   that was never written (`crash_tests` kills a writer with SIGKILL 100 times to show it). A crash before that
//!   loses nothing that was acknowledged to anyone; a crash after it re-sends the frame.
//! - **Delivery.** A frame leaves the outbox only through [`Spool::ack`], called when the control
//!   plane acknowledges that it stored the frame. Until then it is re-sent after every reconnect,
//!   so delivery is at-least-once; the control plane makes it exactly-once by storing on
//!   `(agent, seq)`.
//! - **Poison frames.** A frame the control plane rejects as invalid is moved (not deleted) to the
//!   `dead` tree with the reason, so the stream is not blocked and nothing is silently lost.
//! - **Secrets.** Only redacted evidence and alarm memos are written here; credentials never are
//!   (they live in the SDK's memory only).
//! - **Corruption.** sled checksums its log, and on a damaged log it keeps what precedes the
//!   damage and silently drops the rest. A store sled reports corrupt, or one that comes back
//!   without the identity every store is created with, is moved aside (`DIR.corrupt-<ms>`, kept
//!   for inspection, never deleted) and a fresh one started, with an error logged naming both:
//!   the agent keeps working rather than crash-looping. The frames the old store held are not
//!   sent, and the new store has a new agent id. (Damage that leaves the identity readable but
//!   drops later frames is not detected: nothing outside sled records how far the log reached.)

use std::path::Path;

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

const NEXT_SEQ: &[u8] = b"next_seq";
const AGENT_ID: &[u8] = b"agent_id";
const PSEUDONYM_KEY: &[u8] = b"pseudonym_key";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot open spool at {dir}: {source}")]
    Open { dir: String, source: sled::Error },
    #[error("spool i/o: {0}")]
    Io(#[from] sled::Error),
    #[error("spool entry is corrupt: {0}")]
    Corrupt(String),
}

impl From<TransactionError<SpoolError>> for SpoolError {
    fn from(e: TransactionError<SpoolError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => SpoolError::Io(e),
        }
    }
}

/// What the agent remembers about one alarm, so a restart neither re-investigates a transition it
/// handled nor misses one that happened while it was down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmMemo {
    pub state: String,
    /// The transition into `ALARM` (epoch ms) that was last investigated or deliberately skipped.
    pub handled_transition: Option<i64>,
}

#[derive(Clone)]
pub struct Spool {
    db: sled::Db,
    outbox: sled::Tree,
    meta: sled::Tree,
    alarms: sled::Tree,
    dead: sled::Tree,
    notify: std::sync::Arc<tokio::sync::Notify>,
    /// One flush at a time (see [`Spool::flush`]).
    flushing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Where a corrupt spool was moved when this one replaced it.
    recovered_from: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("pending", &self.outbox.len())
            .finish()
    }
}

impl Spool {
    /// Open the spool in `dir`, creating it when there is none. A store that sled reports as
    /// corrupt, or that reads back without the identity every store is created with (sled
    /// recovers a damaged log by dropping what follows the damage, which can be everything), is
    /// moved aside to `DIR.corrupt-<epoch ms>` and a fresh one is started, so the agent keeps
    /// working instead of crash-looping; [`Spool::recovered_from`] then names the copy.
    pub fn open(dir: &Path) -> Result<Self, SpoolError> {
        let existed = dir.join("conf").exists() || dir.join("db").exists();
        let lost = match Self::open_store(dir) {
            Ok(spool) if !existed || spool.meta.get(AGENT_ID)?.is_some() => {
                return spool.with_identity();
            }
            Ok(spool) => {
                drop(spool);
                "its identity is missing".to_owned()
            }
            Err(SpoolError::Open {
                source: e @ sled::Error::Corruption { .. },
                ..
            }) => e.to_string(),
            Err(e) => return Err(e),
        };
        let aside = dir.with_file_name(format!(
            "{}.corrupt-{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("spool"),
            crate::investigate::now_ms()
        ));
        std::fs::rename(dir, &aside).map_err(|e| SpoolError::Open {
            dir: dir.display().to_string(),
            source: sled::Error::Io(e),
        })?;
        tracing::error!(
            spool = %dir.display(),
            moved_to = %aside.display(),
            reason = %lost,
            "the spool was unreadable: it was moved aside and a new one started; evidence it held was not sent"
        );
        let mut spool = Self::open_store(dir)?.with_identity()?;
        spool.recovered_from = Some(aside);
        Ok(spool)
    }

    /// Where a corrupt spool was moved when this one was started in its place.
    pub fn recovered_from(&self) -> Option<&Path> {
        self.recovered_from.as_deref()
    }

    fn open_store(dir: &Path) -> Result<Self, SpoolError> {
        let open_err = |source| SpoolError::Open {
            dir: dir.display().to_string(),
            source,
        };
        // sled releases its file lock when the last handle's background flusher has stopped,
        // which can be a moment after the previous owner (this process before a restart, or an
        // agent being replaced) dropped it: wait up to 5 s for the lock, then report it.
        let mut waited = std::time::Duration::ZERO;
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .mode(sled::Mode::HighThroughput)
                .open()
            {
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock") =>
                {
                    if waited >= std::time::Duration::from_secs(5) {
                        return Err(open_err(sled::Error::Io(e)));
                    }
                    let step = std::time::Duration::from_millis(50);
                    std::thread::sleep(step);
                    waited += step;
                }
                other => break other.map_err(open_err)?,
            }
        };
        let spool = Spool {
            outbox: db.open_tree("outbox").map_err(open_err)?,
            meta: db.open_tree("meta").map_err(open_err)?,
            alarms: db.open_tree("alarms").map_err(open_err)?,
            dead: db.open_tree("dead").map_err(open_err)?,
            db,
            notify: Default::default(),
            flushing: Default::default(),
            recovered_from: None,
        };
        Ok(spool)
    }

    /// The store with its identity (agent id, pseudonym key), created when missing.
    fn with_identity(self) -> Result<Self, SpoolError> {
        let spool = self;
        if spool.meta.get(PSEUDONYM_KEY)?.is_none() {
            let key: [u8; 32] = rand::random();
            spool
                .meta
                .compare_and_swap(PSEUDONYM_KEY, None as Option<&[u8]>, Some(&key[..]))?
                .ok();
        }
        if spool.meta.get(AGENT_ID)?.is_none() {
            let id = format!("agt-{:016x}", rand::random::<u64>());
            spool
                .meta
                .compare_and_swap(AGENT_ID, None as Option<&[u8]>, Some(id.as_bytes()))?
                .ok();
            spool.db.flush()?;
        }
        Ok(spool)
    }

    /// Stable identity of this installation, created with the spool.
    pub fn agent_id(&self) -> Result<String, SpoolError> {
        let v = self
            .meta
            .get(AGENT_ID)?
            .ok_or_else(|| SpoolError::Corrupt("agent id missing".into()))?;
        String::from_utf8(v.to_vec()).map_err(|e| SpoolError::Corrupt(e.to_string()))
    }

    /// The key for redaction pseudonyms: created with the spool, never sent anywhere.
    pub fn pseudonym_key(&self) -> Result<Vec<u8>, SpoolError> {
        Ok(self
            .meta
            .get(PSEUDONYM_KEY)?
            .ok_or_else(|| SpoolError::Corrupt("pseudonym key missing".into()))?
            .to_vec())
    }

    /// Append a frame built for the next sequence number and, in the same transaction, remember
    /// the alarm memo (when given). Returns the sequence number once the write is on disk.
    pub async fn push(
        &self,
        memo: Option<(&str, &AlarmMemo)>,
        build: impl Fn(u64) -> Vec<u8>,
    ) -> Result<u64, SpoolError> {
        let memo_bytes = memo
            .map(|(name, m)| serde_json::to_vec(m).map(|b| (name.as_bytes().to_vec(), b)))
            .transpose()
            .map_err(|e| SpoolError::Corrupt(e.to_string()))?;
        let seq =
            (&self.meta, &self.outbox, &self.alarms).transaction(|(meta, outbox, alarms)| {
                let seq = match meta.get(NEXT_SEQ)? {
                    Some(v) => decode_seq(&v).map_err(ConflictableTransactionError::Abort)?,
                    None => 1,
                };
                meta.insert(NEXT_SEQ, &(seq + 1).to_be_bytes())?;
                outbox.insert(&seq.to_be_bytes(), build(seq))?;
                if let Some((name, bytes)) = &memo_bytes {
                    alarms.insert(name.as_slice(), bytes.as_slice())?;
                }
                Ok(seq)
            })?;
        self.flush().await?;
        self.notify.notify_waiters();
        Ok(seq)
    }

    /// Frames waiting for an ack with a sequence number greater than `after`, in order.
    pub fn pending_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, SpoolError> {
        let start = after.saturating_add(1).to_be_bytes();
        self.outbox
            .range(start..)
            .take(limit)
            .map(|r| {
                let (k, v) = r?;
                Ok((decode_seq(&k)?, v.to_vec()))
            })
            .collect()
    }

    pub fn pending_count(&self) -> usize {
        self.outbox.len()
    }

    /// The control plane stored `seq`: forget it.
    pub async fn ack(&self, seq: u64) -> Result<(), SpoolError> {
        self.outbox.remove(seq.to_be_bytes())?;
        self.flush().await?;
        Ok(())
    }

    /// The control plane stored every frame in `seqs`: forget them in one batch and one flush.
    pub async fn ack_many(&self, seqs: &[u64]) -> Result<(), SpoolError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for seq in seqs {
            batch.remove(&seq.to_be_bytes());
        }
        self.outbox.apply_batch(batch)?;
        self.flush().await?;
        Ok(())
    }

    /// The control plane refused `seq` as invalid: keep it aside with the reason.
    pub async fn bury(&self, seq: u64, reason: &str) -> Result<(), SpoolError> {
        if let Some(frame) = self.outbox.get(seq.to_be_bytes())? {
            let entry = serde_json::json!({
                "reason": reason,
                "frame": String::from_utf8_lossy(&frame),
            });
            self.dead
                .insert(seq.to_be_bytes(), entry.to_string().as_bytes())?;
            self.outbox.remove(seq.to_be_bytes())?;
            self.flush().await?;
        }
        Ok(())
    }

    pub fn dead_count(&self) -> usize {
        self.dead.len()
    }

    pub fn alarm_memo(&self, name: &str) -> Result<Option<AlarmMemo>, SpoolError> {
        self.alarms
            .get(name.as_bytes())?
            .map(|v| serde_json::from_slice(&v).map_err(|e| SpoolError::Corrupt(e.to_string())))
            .transpose()
    }

    pub async fn set_alarm_memo(&self, name: &str, memo: &AlarmMemo) -> Result<(), SpoolError> {
        let bytes = serde_json::to_vec(memo).map_err(|e| SpoolError::Corrupt(e.to_string()))?;
        self.alarms.insert(name.as_bytes(), bytes)?;
        self.flush().await?;
        Ok(())
    }

    /// Write everything inserted so far to disk, and return once it is there. sled 0.34's
    /// `flush_async` can hang when several run at once, so this is its synchronous `flush` on the
    /// blocking pool, one at a time: a writer waits for the flush in progress, then runs its own
    /// (which covers its writes; a flush of nothing new returns at once).
    async fn flush(&self) -> Result<(), SpoolError> {
        // The guard moves into the blocking task: a caller that stops waiting (its future
        // dropped) does not let a second flush start beside the one still running.
        let one = self.flushing.clone().lock_owned().await;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let _one = one;
            db.flush()
        })
        .await
        .map_err(|e| SpoolError::Io(sled::Error::Io(std::io::Error::other(e))))??;
        Ok(())
    }

    /// Resolves when a frame is pushed after this call.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

fn decode_seq(bytes: &[u8]) -> Result<u64, SpoolError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| SpoolError::Corrupt(format!("sequence key of {} bytes", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn survives_reopen_in_order_until_acked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id;
        {
            let spool = Spool::open(dir.path()).expect("open");
            id = spool.agent_id().expect("id");
            for i in 0..5u8 {
                let seq = spool.push(None, |s| vec![i, s as u8]).await.expect("push");
                assert_eq!(seq, u64::from(i) + 1);
            }
            spool.ack(2).await.expect("ack");
        }
        let spool = Spool::open(dir.path()).expect("reopen");
        assert_eq!(spool.agent_id().expect("id"), id, "identity is stable");
        let seqs: Vec<u64> = spool
            .pending_after(0, 100)
            .expect("pending")
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(seqs, vec![1, 3, 4, 5]);
        assert_eq!(spool.pending_after(3, 1).expect("pending")[0].0, 4);
        // Sequence numbers continue after a restart, never reused.
        assert_eq!(spool.push(None, |_| vec![]).await.expect("push"), 6);
    }

    #[tokio::test]
    async fn memo_is_written_with_the_frame() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let memo = AlarmMemo {
            state: "ALARM".into(),
            handled_transition: Some(42),
        };
        spool
            .push(Some(("a", &memo)), |_| b"x".to_vec())
            .await
            .expect("push");
        assert_eq!(spool.alarm_memo("a").expect("memo"), Some(memo));
        spool.bury(1, "invalid").await.expect("bury");
        assert_eq!(spool.pending_count(), 0);
        assert_eq!(spool.dead_count(), 1);
    }
}

#[cfg(test)]
mod model {
    //! The spool against an in-memory model: any sequence of pushes, acks and reopens leaves
    //! exactly the un-acked frames, in order.
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        Ack(usize),
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u8>().prop_map(Op::Push),
            2 => any::<usize>().prop_map(Op::Ack),
            1 => Just(Op::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn matches_model(ops in proptest::collection::vec(op(), 1..40)) {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
            rt.block_on(async {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut spool = Spool::open(dir.path()).expect("open");
                let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
                let mut next = 1u64;
                for op in ops {
                    match op {
                        Op::Push(b) => {
                            let seq = spool.push(None, |_| vec![b]).await.expect("push");
                            prop_assert_eq!(seq, next);
                            model.insert(seq, vec![b]);
                            next += 1;
                        }
                        Op::Ack(i) => {
                            if let Some(&seq) = model.keys().nth(i % model.len().max(1)) {
                                spool.ack(seq).await.expect("ack");
                                model.remove(&seq);
                            }
                        }
                        Op::Reopen => {
                            drop(spool);
                            spool = Spool::open(dir.path()).expect("reopen");
                        }
                    }
                    let got: Vec<(u64, Vec<u8>)> = spool.pending_after(0, usize::MAX).expect("pending");
                    let want: Vec<(u64, Vec<u8>)> = model.iter().map(|(k, v)| (*k, v.clone())).collect();
                    prop_assert_eq!(got, want);
                }
                Ok(())
            })?;
        }
    }
}

#[cfg(all(test, unix))]
mod crash_tests {
    //! A writer killed with SIGKILL at random points, 100 times over one spool: every frame whose
    //! push returned survives, in order, with its content; nothing appears that was never written;
    //! an acknowledged frame stays gone.
    use super::*;
    use std::collections::BTreeSet;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    const DIR_VAR: &str = "CONVOPS_SPOOL_CRASH_DIR";

    /// The frame for `seq`: its content follows from its number (and its length varies), so a
    /// torn or invented frame is told apart.
    fn frame(seq: u64) -> Vec<u8> {
        format!("frame {seq} {}", "x".repeat((seq % 97) as usize * 13)).into_bytes()
    }

    /// The child process of [`writes_survive_sigkill`]: pushes frames until it is killed, saying
    /// `pushed N` once a push returned; every third push it acknowledges the oldest frame,
    /// saying `acking N` before and `acked N` after.
    #[test]
    #[ignore = "the child process of writes_survive_sigkill"]
    fn crash_child() {
        let Ok(dir) = std::env::var(DIR_VAR) else {
            return;
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let spool = Spool::open(Path::new(&dir)).expect("open");
            let say = |line: String| {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").expect("stdout");
                out.flush().expect("stdout");
            };
            loop {
                let seq = spool.push(None, frame).await.expect("push");
                say(format!("pushed {seq}"));
                if seq % 3 == 0 {
                    let oldest = spool.pending_after(0, 1).expect("pending");
                    if let Some((oldest, _)) = oldest.first() {
                        say(format!("acking {oldest}"));
                        spool.ack(*oldest).await.expect("ack");
                        say(format!("acked {oldest}"));
                    }
                }
            }
        });
    }

    #[test]
    fn writes_survive_sigkill() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = std::env::current_exe().expect("test binary");
        // Frames known to be in the spool (push returned, not acknowledged), and acknowledged.
        let mut present: BTreeSet<u64> = BTreeSet::new();
        let mut acked: BTreeSet<u64> = BTreeSet::new();
        let mut highest = 0u64;
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..100 {
            let mut child = Command::new(&exe)
                .args([
                    "--exact",
                    "spool::crash_tests::crash_child",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(DIR_VAR, dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn the writer");
            let mut out = BufReader::new(child.stdout.take().expect("stdout"));
            let mut in_flight_ack: Option<u64> = None;
            let mut record = |line: &str| {
                // The last two words: libtest writes `test … ... ` before the child's first line.
                let mut words = line.split_whitespace().rev();
                let (Some(n), Some(word)) = (words.next(), words.next()) else {
                    return;
                };
                let Ok(n) = n.parse::<u64>() else { return };
                match word {
                    "pushed" => {
                        present.insert(n);
                        highest = highest.max(n);
                    }
                    "acking" => in_flight_ack = Some(n),
                    "acked" => {
                        present.remove(&n);
                        acked.insert(n);
                        in_flight_ack = None;
                    }
                    _ => {}
                }
            };
            // Kill after a random number of lines (none: while it opens the spool), then a
            // random few hundred microseconds into whatever it is doing.
            let lines = next() % 30;
            let mut line = String::new();
            for _ in 0..lines {
                line.clear();
                if out.read_line(&mut line).expect("read") == 0 {
                    break;
                }
                record(&line);
            }
            std::thread::sleep(std::time::Duration::from_micros(next() % 2_000));
            child.kill().expect("SIGKILL");
            let status = child.wait().expect("reap");
            // Killed, not failed on its own (which would make the round prove nothing).
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(9),
                "round {round}: the writer ended by itself: {status}"
            );
            // Lines already in the pipe were written after their push returned: they count.
            for l in out.lines() {
                record(&l.expect("read"));
            }
            let spool = Spool::open(dir.path()).expect("reopen after SIGKILL");
            let frames = spool.pending_after(0, usize::MAX).expect("pending");
            let seqs: Vec<u64> = frames.iter().map(|f| f.0).collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "round {round}: out of order: {seqs:?}"
            );
            for (seq, bytes) in &frames {
                assert_eq!(
                    bytes,
                    &frame(*seq),
                    "round {round}: frame {seq} is not as written"
                );
                assert!(
                    !acked.contains(seq),
                    "round {round}: acknowledged {seq} came back"
                );
            }
            let found: BTreeSet<u64> = seqs.iter().copied().collect();
            let lost: Vec<&u64> = present
                .iter()
                .filter(|s| !found.contains(s) && Some(**s) != in_flight_ack)
                .collect();
            assert!(
                lost.is_empty(),
                "round {round}: flushed frames lost: {lost:?}"
            );
            // The one push that was cut before it said so may have reached the disk.
            let unreported: Vec<&u64> = found.iter().filter(|s| !present.contains(s)).collect();
            assert!(
                unreported.iter().all(|s| **s > highest) && unreported.len() <= 1,
                "round {round}: frames nobody pushed: {unreported:?} (found {found:?}, known {present:?}, highest {highest}, acked {acked:?})"
            );
            // What is on disk is the truth the next round starts from.
            if let Some(s) = unreported.first() {
                highest = **s;
            }
            present = found;
            drop(spool);
        }
        assert!(
            highest > 100,
            "the writer got through only {highest} frames"
        );
    }
}

#[cfg(test)]
mod corruption_tests {
    use super::*;

    /// sled reads a damaged log as far as the damage and drops the rest; here, everything. The
    /// spool notices, keeps the damaged copy and starts afresh instead of carrying on as if it
    /// were new, or failing every start.
    #[tokio::test]
    async fn a_damaged_store_is_moved_aside_and_a_fresh_one_started() {
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("spool");
        let id = {
            let spool = Spool::open(&dir).expect("open");
            for _ in 0..50 {
                spool
                    .push(None, |s| vec![s as u8; 300])
                    .await
                    .expect("push");
            }
            assert!(spool.recovered_from().is_none());
            spool.agent_id().expect("id")
        };
        let db = dir.join("db");
        let mut bytes = std::fs::read(&db).expect("read db");
        for b in bytes.iter_mut().skip(100).step_by(7) {
            *b ^= 0x5a;
        }
        std::fs::write(&db, bytes).expect("damage db");
        let spool = Spool::open(&dir).expect("a damaged spool does not stop the agent");
        let aside = spool
            .recovered_from()
            .expect("the damage was noticed")
            .to_owned();
        assert!(
            aside.join("db").exists(),
            "the damaged copy is kept: {}",
            aside.display()
        );
        assert!(aside
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("spool.corrupt-")));
        assert_ne!(
            spool.agent_id().expect("id"),
            id,
            "a new store, a new identity"
        );
        assert_eq!(spool.pending_count(), 0);
        assert_eq!(spool.push(None, |_| b"x".to_vec()).await.expect("push"), 1);
        drop(spool);
        // Reopened, it is the new store, not damaged again.
        let spool = Spool::open(&dir).expect("reopen");
        assert!(spool.recovered_from().is_none());
        assert_eq!(spool.pending_count(), 1);
    }
}
