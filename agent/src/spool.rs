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
//! - **Size bound.** The outbox holds at most `max_bytes` of frames (logical bytes: the frames as
//!   stored, `spool.max_bytes` in the configuration, [`DEFAULT_MAX_BYTES`] by default). A push
//!   that goes over drops whole evidence frames until it fits, in this order: first a frame that
//!   is **superseded** (a later frame about the same alarm is also waiting: the later
//!   investigation covers a later window of the same incident), then the **oldest**, the new
//!   frame last. Each dropped frame is replaced, under its own `seq`, by a small
//!   [`LossFrame`](convops_shared::protocol::LossFrame) naming the investigation, the alarm and
//!   the bytes lost, so the order holds and the control plane records and shows the gap. A
//!   frame larger than the whole bound is replaced first. Loss records themselves are never
//!   dropped; once they take a quarter of the bound they are merged into one summary under a
//!   new `seq` (a record already delivered may then be counted twice, never not at all). A
//!   frame already sent and later acknowledged removes its record, unless merged: nothing was
//!   lost after all.
//! - **Disk full.** sled can neither write nor even reopen on a full disk, and its log takes
//!   several times the bytes it holds, so a bound in logical bytes does not protect a small
//!   volume. Below a floor of free space (a tenth of the volume, 1 MiB to 1 GiB), a push stores a
//!   loss record (`disk_full`) instead of its frame, and loss records are merged once they take
//!   a quarter of the bound. If the volume fills anyway (another process), the push returns the
//!   error, the watcher logs it and carries on, and sled refuses every call until the agent is
//!   restarted with room.
//! - **Corruption.** sled checksums its log, and on a damaged log it keeps what precedes the
//!   damage and silently drops the rest. A store sled reports corrupt, or one that comes back
//!   without the identity every store is created with, is moved aside (`DIR.corrupt-<ms>`, kept
//!   for inspection, never deleted) and a fresh one started, with an error logged naming both:
//!   the agent keeps working rather than crash-looping. The frames the old store held are not
//!   sent, and the new store has a new agent id; its first frame is a
//!   [`LossFrame`](convops_shared::protocol::LossFrame) (`spool_corrupt`) naming both paths, so
//!   the control plane shows the loss. (Damage that leaves the identity readable but
//!   drops later frames is not detected: nothing outside sled records how far the log reached.)

use std::path::Path;
use std::sync::atomic::Ordering;

use convops_shared::protocol::{AgentFrame, LossFrame, LossReason};

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

/// The default bound of the outbox, in bytes of stored frames: about 5,000 investigations at
/// the evidence budget's typical 50 KB, days of alarms with the control plane unreachable, and a
/// small share of a Fargate task's 20 GiB of ephemeral storage.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Below this share of its volume's size free (at least [`MIN_FREE_BYTES`], at most
/// [`MAX_FREE_FLOOR`]), a push stores
/// a loss record instead of its frame: sled can neither write nor even reopen on a full disk
/// (`disk_full_tests`), and its log can take several times the bytes it holds (measured in
/// `docs/benchmarks.md`), so the bound in logical bytes alone does not keep a small volume from
/// filling.
const FREE_FLOOR_SHARE: u64 = 10;
const MIN_FREE_BYTES: u64 = 1024 * 1024;
const MAX_FREE_FLOOR: u64 = 1024 * 1024 * 1024;
/// sled's page cache: sled's default (1 GiB) is twice the memory of the agent's task (512 MiB).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// A merged loss record names at most this many alarms.
const MERGED_ALARMS_NAMED: usize = 20;

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
    /// The bound of `bytes`.
    max_bytes: u64,
    /// The store's directory (its volume's free space is checked before each push).
    dir: std::path::PathBuf,
    /// Bytes of the frames in the outbox.
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The evidence frames that may be dropped, held while the outbox, `bytes` and the index
    /// change together (never across an await).
    outbox_lock: std::sync::Arc<std::sync::Mutex<Droppable>>,
}

/// The outbox's evidence frames (loss records are never dropped) with what the drop policy
/// needs, kept in memory so a full spool does not re-read every frame on each push; and the
/// loss records that may be merged (`seq` → bytes).
#[derive(Default)]
struct Droppable(
    std::collections::BTreeMap<u64, Probed>,
    std::collections::BTreeMap<u64, u64>,
);

struct Probed {
    len: u64,
    investigation_id: Option<String>,
    alarm: Option<ProbeAlarm>,
}

impl Probed {
    /// The loss record that stands for this frame under `seq`.
    fn lost(self, seq: u64, reason: LossReason, detail: String) -> LossFrame {
        LossFrame {
            frames: Some(1),
            bytes: Some(self.len),
            alarm_at: self.alarm.as_ref().and_then(|a| a.transitioned_at),
            alarm_name: self.alarm.map(|a| a.name),
            investigation_id: self.investigation_id,
            ..loss_record(seq, reason, detail)
        }
    }
}

impl Droppable {
    /// Index `frame` under `seq` unless it is a loss record.
    fn add(&mut self, seq: u64, frame: &[u8]) {
        let probe: Probe = serde_json::from_slice(frame).unwrap_or_default();
        if probe.kind.as_deref() == Some("loss") {
            if probe.reason.as_deref() != Some(LossReason::SpoolCorrupt.as_str()) {
                self.1.insert(seq, frame.len() as u64);
            }
        } else {
            self.0.insert(
                seq,
                Probed {
                    len: frame.len() as u64,
                    investigation_id: probe.investigation_id,
                    alarm: probe.alarm,
                },
            );
        }
    }
}

/// What the drop policy needs to know of a spooled frame (any other field is ignored; a frame
/// that does not parse is droppable evidence about no known alarm).
#[derive(Deserialize, Default)]
struct Probe {
    #[serde(rename = "type")]
    kind: Option<String>,
    investigation_id: Option<String>,
    alarm: Option<ProbeAlarm>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct ProbeAlarm {
    name: String,
    transitioned_at: Option<i64>,
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
        Self::open_with(dir, DEFAULT_MAX_BYTES)
    }

    /// [`Spool::open`] with the outbox bounded to `max_bytes` (see the module's "Size bound").
    pub fn open_with(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let mut spool = Self::open_unbounded(dir)?;
        spool.max_bytes = max_bytes;
        Ok(spool)
    }

    /// The bound of the outbox in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn open_unbounded(dir: &Path) -> Result<Self, SpoolError> {
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
        let detail = format!(
            "the agent's spool at {} could not be read at start ({lost}); it was moved to {} and a new one started, so the evidence it held was not sent",
            dir.display(),
            aside.display()
        );
        spool.append(&mut Droppable::default(), None, &|seq| {
            AgentFrame::Loss(loss_record(seq, LossReason::SpoolCorrupt, detail.clone()))
                .encode()
                .into_bytes()
        })?;
        spool.db.flush()?;
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
                .cache_capacity(CACHE_BYTES)
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
        let outbox = db.open_tree("outbox").map_err(open_err)?;
        let mut bytes = 0u64;
        let mut droppable = Droppable::default();
        for entry in outbox.iter() {
            let (key, value) = entry.map_err(open_err)?;
            bytes += value.len() as u64;
            droppable.add(decode_seq(&key)?, &value);
        }
        let spool = Spool {
            outbox,
            meta: db.open_tree("meta").map_err(open_err)?,
            alarms: db.open_tree("alarms").map_err(open_err)?,
            dead: db.open_tree("dead").map_err(open_err)?,
            db,
            notify: Default::default(),
            flushing: Default::default(),
            recovered_from: None,
            max_bytes: u64::MAX,
            dir: dir.to_owned(),
            bytes: std::sync::Arc::new(bytes.into()),
            outbox_lock: std::sync::Arc::new(std::sync::Mutex::new(droppable)),
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
    /// the alarm memo (when given). Returns the sequence number once the write is on disk. Over
    /// the size bound, frames are replaced by loss records first (see the module's "Size bound").
    pub async fn push(
        &self,
        memo: Option<(&str, &AlarmMemo)>,
        build: impl Fn(u64) -> Vec<u8>,
    ) -> Result<u64, SpoolError> {
        let memo_bytes = memo
            .map(|(name, m)| serde_json::to_vec(m).map(|b| (name.as_bytes().to_vec(), b)))
            .transpose()
            .map_err(|e| SpoolError::Corrupt(e.to_string()))?;
        let low_disk = self.low_disk();
        let (seq, dropped) = {
            let mut droppable = self.lock_outbox();
            let seq = match &low_disk {
                None => self.append(&mut droppable, memo_bytes.as_ref(), &build)?,
                Some(why) => self.append(&mut droppable, memo_bytes.as_ref(), &|seq| {
                    disk_full_record(seq, &build(seq), why)
                })?,
            };
            let dropped = self.make_room(&mut droppable)?;
            self.merge_records(&mut droppable)?;
            (seq, dropped)
        };
        if let Some(why) = &low_disk {
            tracing::error!(
                seq,
                "{why}: the evidence was not written, only a loss record"
            );
        }
        self.flush().await?;
        for loss in &dropped {
            tracing::warn!(
                seq = loss.seq,
                alarm = loss.alarm_name.as_deref().unwrap_or("-"),
                bytes = loss.bytes.unwrap_or(0),
                max_bytes = self.max_bytes,
                "spool full: evidence dropped and replaced by a loss record"
            );
        }
        self.notify.notify_waiters();
        Ok(seq)
    }

    fn lock_outbox(&self) -> std::sync::MutexGuard<'_, Droppable> {
        // Every change to the index follows the sled write it mirrors, so a panic in between
        // leaves at worst a frame the policy does not know of (it is sent, never dropped).
        self.outbox_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The transaction of [`Spool::push`] (not yet flushed); the caller holds the outbox lock.
    fn append(
        &self,
        droppable: &mut Droppable,
        memo: Option<&(Vec<u8>, Vec<u8>)>,
        build: &dyn Fn(u64) -> Vec<u8>,
    ) -> Result<u64, SpoolError> {
        let built = std::cell::RefCell::new(Vec::new());
        let seq =
            (&self.meta, &self.outbox, &self.alarms).transaction(|(meta, outbox, alarms)| {
                let seq = match meta.get(NEXT_SEQ)? {
                    Some(v) => decode_seq(&v).map_err(ConflictableTransactionError::Abort)?,
                    None => 1,
                };
                meta.insert(NEXT_SEQ, &(seq + 1).to_be_bytes())?;
                let frame = build(seq);
                outbox.insert(&seq.to_be_bytes(), frame.as_slice())?;
                *built.borrow_mut() = frame;
                if let Some((name, bytes)) = memo {
                    alarms.insert(name.as_slice(), bytes.as_slice())?;
                }
                Ok(seq)
            })?;
        let frame = built.into_inner();
        self.bytes.fetch_add(frame.len() as u64, Ordering::SeqCst);
        droppable.add(seq, &frame);
        Ok(seq)
    }

    /// Replace evidence frames by loss records until the outbox fits its bound: superseded
    /// frames first, then the oldest. The caller holds the outbox lock. Returns the records.
    fn make_room(&self, droppable: &mut Droppable) -> Result<Vec<LossFrame>, SpoolError> {
        if self.bytes.load(Ordering::SeqCst) <= self.max_bytes {
            return Ok(Vec::new());
        }
        let mut latest: std::collections::HashMap<&str, u64> = Default::default();
        for (seq, probed) in &droppable.0 {
            if let Some(alarm) = &probed.alarm {
                latest.insert(&alarm.name, *seq);
            }
        }
        let superseded = |seq: u64, probed: &Probed| {
            probed
                .alarm
                .as_ref()
                .is_some_and(|a| latest.get(a.name.as_str()).is_some_and(|l| *l > seq))
        };
        // A frame larger than the whole bound can never fit: it goes first, before it could push
        // out anything else; then superseded frames; then the oldest.
        let mut order: Vec<(u8, u64)> = droppable
            .0
            .iter()
            .map(|(seq, p)| {
                let rank = if p.len > self.max_bytes {
                    0
                } else if superseded(*seq, p) {
                    1
                } else {
                    2
                };
                (rank, *seq)
            })
            .collect();
        order.sort_unstable();
        drop(latest);
        let mut records = Vec::new();
        for (rank, seq) in order {
            if self.bytes.load(Ordering::SeqCst) <= self.max_bytes {
                break;
            }
            let Some(probed) = droppable.0.remove(&seq) else {
                continue;
            };
            let reason = match rank {
                0 => "it alone was larger than the bound",
                1 => "it was superseded by a later investigation of the same alarm, which is kept",
                _ => "it was the oldest evidence waiting",
            };
            let len = probed.len;
            let record = probed.lost(
                seq,
                LossReason::SpoolFull,
                format!(
                    "the agent's spool reached its bound of {} bytes while the control plane could not take its evidence; this investigation's evidence ({len} bytes) was dropped to make room: {reason}",
                    self.max_bytes
                ),
            );
            let encoded = AgentFrame::Loss(record.clone()).encode().into_bytes();
            let new_len = encoded.len() as u64;
            self.outbox.insert(seq.to_be_bytes(), encoded)?;
            droppable.1.insert(seq, new_len);
            self.bytes.fetch_add(new_len, Ordering::SeqCst);
            self.bytes.fetch_sub(len, Ordering::SeqCst);
            records.push(record);
        }
        Ok(records)
    }

    /// Why the volume is too full to take a frame, if it is.
    fn low_disk(&self) -> Option<String> {
        let free = fs2::available_space(&self.dir).ok()?;
        let total = fs2::total_space(&self.dir).ok()?;
        let floor = (total / FREE_FLOOR_SHARE).clamp(MIN_FREE_BYTES, MAX_FREE_FLOOR);
        (free < floor).then(|| {
            format!(
                "the volume of the agent's spool ({}) has {free} bytes free, under its floor of {floor} bytes",
                self.dir.display()
            )
        })
    }

    /// Merge the mergeable loss records into one, at the first one's `seq`, once they take more
    /// than a quarter of the bound, so that a control plane unreachable for long leaves a bounded
    /// summary rather than a record per investigation. The caller holds the outbox lock.
    fn merge_records(&self, droppable: &mut Droppable) -> Result<(), SpoolError> {
        let held: u64 = droppable.1.values().sum();
        if droppable.1.len() < 2 || held <= self.max_bytes / 4 {
            return Ok(());
        }
        let mut frames = 0u64;
        let mut bytes = 0u64;
        let mut alarms: Vec<String> = Vec::new();
        let mut alarm_at: Option<i64> = None;
        let mut disk_full = false;
        for seq in droppable.1.keys() {
            let Some(v) = self.outbox.get(seq.to_be_bytes())? else {
                continue;
            };
            let Ok(AgentFrame::Loss(l)) = AgentFrame::decode(&String::from_utf8_lossy(&v)) else {
                continue;
            };
            frames += l.frames.unwrap_or(1);
            bytes += l.bytes.unwrap_or(0);
            disk_full |= l.reason == LossReason::DiskFull;
            alarm_at = match (alarm_at, l.alarm_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for name in l.alarm_name.into_iter().chain(l.alarms) {
                if alarms.len() < MERGED_ALARMS_NAMED && !alarms.contains(&name) {
                    alarms.push(name);
                }
            }
        }
        let merged: Vec<u64> = droppable.1.keys().copied().collect();
        let record = LossFrame {
            frames: Some(frames),
            bytes: Some(bytes),
            alarm_at,
            alarm_name: (alarms.len() == 1).then(|| alarms[0].clone()),
            alarms: alarms.clone(),
            ..loss_record(
                0,
                if disk_full { LossReason::DiskFull } else { LossReason::SpoolFull },
                format!(
                    "the agent could not keep the evidence of {frames} investigations ({bytes} bytes) while the control plane could not take it (its spool's bound is {} bytes, or its volume was nearly full); the alarms are listed{}",
                    self.max_bytes,
                    if alarms.len() >= MERGED_ALARMS_NAMED { format!(" (the first {MERGED_ALARMS_NAMED})") } else { String::new() }
                ),
            )
        };
        // The summary takes a new seq: one of the merged records may already be on its way (or
        // stored, its ack lost), and a summary under its seq would then be taken for it and
        // dropped as a duplicate. A record delivered just before the merge is thus counted
        // twice, never not at all.
        self.append(droppable, None, &|seq| {
            AgentFrame::Loss(LossFrame {
                seq,
                ..record.clone()
            })
            .encode()
            .into_bytes()
        })?;
        let mut batch = sled::Batch::default();
        for seq in &merged {
            batch.remove(&seq.to_be_bytes());
            droppable.1.remove(seq);
        }
        self.outbox.apply_batch(batch)?;
        self.bytes.fetch_sub(held, Ordering::SeqCst);
        Ok(())
    }

    /// Bytes of the frames waiting in the outbox.
    pub fn pending_bytes(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
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

    /// When the oldest waiting frame was made (epoch ms: an evidence frame's `finished_at`, a
    /// loss record's `at`); `None` when the outbox is empty or the frame carries neither.
    pub fn oldest_pending_at_ms(&self) -> Option<i64> {
        #[derive(Deserialize)]
        struct Made {
            finished_at: Option<i64>,
            at: Option<i64>,
        }
        let (_, v) = self.outbox.first().ok()??;
        let made: Made = serde_json::from_slice(&v).ok()?;
        made.finished_at.or(made.at)
    }

    /// The control plane stored `seq`: forget it.
    pub async fn ack(&self, seq: u64) -> Result<(), SpoolError> {
        self.ack_many(&[seq]).await
    }

    /// The control plane stored every frame in `seqs`: forget them in one batch and one flush.
    pub async fn ack_many(&self, seqs: &[u64]) -> Result<(), SpoolError> {
        if seqs.is_empty() {
            return Ok(());
        }
        {
            let mut droppable = self.lock_outbox();
            let mut batch = sled::Batch::default();
            let mut freed = 0u64;
            for seq in seqs {
                if let Some(v) = self.outbox.get(seq.to_be_bytes())? {
                    freed += v.len() as u64;
                    batch.remove(&seq.to_be_bytes());
                }
            }
            self.outbox.apply_batch(batch)?;
            self.bytes.fetch_sub(freed, Ordering::SeqCst);
            for seq in seqs {
                droppable.0.remove(seq);
                droppable.1.remove(seq);
            }
        }
        self.flush().await?;
        Ok(())
    }

    /// The control plane refused `seq` as invalid: keep it aside with the reason.
    pub async fn bury(&self, seq: u64, reason: &str) -> Result<(), SpoolError> {
        {
            let mut droppable = self.lock_outbox();
            let Some(frame) = self.outbox.get(seq.to_be_bytes())? else {
                return Ok(());
            };
            // The evidence was refused after the spool had replaced it by a loss record: the
            // record stays, to be sent after the next reconnect.
            if frame.starts_with(br#"{"type":"loss""#) {
                return Ok(());
            }
            let entry = serde_json::json!({
                "reason": reason,
                "frame": String::from_utf8_lossy(&frame),
            });
            self.dead
                .insert(seq.to_be_bytes(), entry.to_string().as_bytes())?;
            self.outbox.remove(seq.to_be_bytes())?;
            self.bytes.fetch_sub(frame.len() as u64, Ordering::SeqCst);
            droppable.0.remove(&seq);
            droppable.1.remove(&seq);
        }
        self.flush().await?;
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

/// A loss record for `seq` with what every record has.
fn loss_record(seq: u64, reason: LossReason, detail: String) -> LossFrame {
    LossFrame {
        seq,
        reason,
        at: crate::investigate::now_ms(),
        frames: None,
        bytes: None,
        investigation_id: None,
        alarm_name: None,
        alarm_at: None,
        alarms: Vec::new(),
        detail,
    }
}

/// The loss record stored instead of `frame` when the disk is nearly full.
fn disk_full_record(seq: u64, frame: &[u8], why: &str) -> Vec<u8> {
    let probe: Probe = serde_json::from_slice(frame).unwrap_or_default();
    let probed = Probed {
        len: frame.len() as u64,
        investigation_id: probe.investigation_id,
        alarm: probe.alarm,
    };
    AgentFrame::Loss(probed.lost(
        seq,
        LossReason::DiskFull,
        format!("{why}; this investigation's evidence was not written"),
    ))
    .encode()
    .into_bytes()
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
        // Its first frame tells the control plane what happened.
        let first = spool.pending_after(0, 10).expect("pending");
        assert_eq!(first.len(), 1, "only the loss record");
        match AgentFrame::decode(std::str::from_utf8(&first[0].1).expect("utf-8")) {
            Ok(AgentFrame::Loss(loss)) => {
                assert_eq!(loss.seq, 1);
                assert_eq!(loss.reason, LossReason::SpoolCorrupt);
                assert!(
                    loss.detail.contains(&aside.display().to_string()),
                    "{}",
                    loss.detail
                );
            }
            other => panic!("expected a loss record, got {other:?}"),
        }
        assert_eq!(spool.push(None, |_| b"x".to_vec()).await.expect("push"), 2);
        drop(spool);
        // Reopened, it is the new store, not damaged again.
        let spool = Spool::open(&dir).expect("reopen");
        assert!(spool.recovered_from().is_none());
        assert_eq!(spool.pending_count(), 2);
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    /// An evidence-shaped frame of about `pad` bytes about `alarm`.
    fn evidence(alarm: &str, pad: usize) -> impl Fn(u64) -> Vec<u8> + '_ {
        move |seq| {
            serde_json::json!({
                "type": "evidence",
                "seq": seq,
                "investigation_id": format!("inv-{seq}"),
                "alarm": {"name": alarm, "transitioned_at": 1_000 + seq},
                "items": "x".repeat(pad),
            })
            .to_string()
            .into_bytes()
        }
    }

    /// `(seq, Some(loss) | None for evidence)` of everything waiting.
    fn outbox(spool: &Spool) -> Vec<(u64, Option<LossFrame>)> {
        spool
            .pending_after(0, 1000)
            .expect("pending")
            .into_iter()
            .map(|(seq, bytes)| {
                let loss = match AgentFrame::decode(std::str::from_utf8(&bytes).expect("utf-8")) {
                    Ok(AgentFrame::Loss(l)) => Some(l),
                    _ => None,
                };
                (seq, loss)
            })
            .collect()
    }

    fn stored_bytes(spool: &Spool) -> u64 {
        spool
            .pending_after(0, 1000)
            .expect("pending")
            .iter()
            .map(|(_, b)| b.len() as u64)
            .sum()
    }

    #[tokio::test]
    async fn over_the_bound_superseded_then_oldest_evidence_becomes_loss_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open_with(dir.path(), 11_000).expect("open");
        for alarm in ["db-cpu", "api-5xx", "db-cpu"] {
            spool
                .push(None, evidence(alarm, 3_000))
                .await
                .expect("push");
        }
        // Three frames of ~3.1 KB fit; a fourth does not (a loss record is ~0.5 KB). The first db-cpu frame is superseded
        // by the third (a later investigation of the same alarm) and goes first, although the
        // api-5xx frame is no younger.
        spool
            .push(None, evidence("queue-age", 3_000))
            .await
            .expect("push");
        let out = outbox(&spool);
        assert_eq!(out.len(), 4, "every seq still there: {out:?}");
        let loss = out[0].1.as_ref().expect("seq 1 replaced");
        assert_eq!(loss.reason, LossReason::SpoolFull);
        assert_eq!(loss.alarm_name.as_deref(), Some("db-cpu"));
        assert_eq!(loss.investigation_id.as_deref(), Some("inv-1"));
        assert_eq!(loss.alarm_at, Some(1_001));
        assert!(loss.bytes.is_some_and(|b| b > 3_000), "{loss:?}");
        assert!(loss.detail.contains("superseded"), "{}", loss.detail);
        assert!(out[1..].iter().all(|(_, l)| l.is_none()), "{out:?}");
        assert!(spool.pending_bytes() <= 11_000);
        assert_eq!(spool.pending_bytes(), stored_bytes(&spool));

        // Nothing superseded now: the oldest evidence goes (api-5xx, seq 2).
        spool
            .push(None, evidence("disk", 3_000))
            .await
            .expect("push");
        let out = outbox(&spool);
        let loss = out[1].1.as_ref().expect("seq 2 replaced");
        assert_eq!(loss.alarm_name.as_deref(), Some("api-5xx"));
        assert!(loss.detail.contains("oldest"), "{}", loss.detail);
        assert!(out[2..].iter().all(|(_, l)| l.is_none()), "{out:?}");

        // A frame larger than the whole bound can never be sent: it is the one replaced, before
        // it could push out anything else, and the loss records before it stay.
        let evidence_before = outbox(&spool).iter().filter(|(_, l)| l.is_none()).count();
        let seq = spool
            .push(None, evidence("huge", 12_000))
            .await
            .expect("push");
        let out = outbox(&spool);
        assert_eq!(
            out.iter().filter(|(_, l)| l.is_none()).count(),
            evidence_before,
            "{out:?}"
        );
        let loss = out
            .iter()
            .find(|(s, _)| *s == seq)
            .and_then(|(_, l)| l.as_ref())
            .expect("the huge frame was replaced");
        assert_eq!(loss.alarm_name.as_deref(), Some("huge"));
        assert!(out[0].1.is_some() && out[1].1.is_some());
        assert!(spool.pending_bytes() <= 11_000);

        // The count survives a restart; acking everything brings it to zero.
        drop(spool);
        let spool = Spool::open_with(dir.path(), 11_000).expect("reopen");
        assert_eq!(spool.pending_bytes(), stored_bytes(&spool));
        let seqs: Vec<u64> = outbox(&spool).into_iter().map(|(s, _)| s).collect();
        spool.ack_many(&seqs).await.expect("ack");
        assert_eq!(spool.pending_bytes(), 0);
        assert_eq!(spool.pending_count(), 0);
    }

    /// Loss records past a quarter of the bound are merged into one summary under a new seq
    /// (one of them may already be on its way), counting every frame and naming every alarm.
    #[tokio::test]
    async fn loss_records_are_merged_into_a_summary_under_a_new_seq() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open_with(dir.path(), 8_000).expect("open");
        let mut last = 0;
        for i in 0..12 {
            last = spool
                .push(None, evidence(["a", "b", "c"][i % 3], 1_500))
                .await
                .expect("push");
        }
        let out = outbox(&spool);
        let records: Vec<&LossFrame> = out.iter().filter_map(|(_, l)| l.as_ref()).collect();
        let evidence_left = out.iter().filter(|(_, l)| l.is_none()).count() as u64;
        let lost: u64 = records.iter().filter_map(|l| l.frames).sum();
        assert_eq!(
            lost + evidence_left,
            12,
            "every push is counted once: {out:?}"
        );
        let summary = records
            .iter()
            .find(|l| l.frames.unwrap_or(1) > 1)
            .expect("a merged summary");
        assert!(
            summary.seq > 1 && summary.seq <= last,
            "a new seq: {}",
            summary.seq
        );
        assert!(
            summary
                .alarms
                .iter()
                .all(|a| ["a", "b", "c"].contains(&a.as_str()))
                && !summary.alarms.is_empty(),
            "{summary:?}"
        );
        assert!(spool.pending_bytes() <= 8_000);
        assert_eq!(spool.pending_bytes(), stored_bytes(&spool));
    }

    /// A frame that was sent before it was replaced and is then acknowledged takes its loss
    /// record with it: the control plane had the evidence after all.
    #[tokio::test]
    async fn an_acknowledged_frame_removes_its_loss_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open_with(dir.path(), 3_000).expect("open");
        spool.push(None, evidence("a", 1_000)).await.expect("push");
        spool.push(None, evidence("b", 1_000)).await.expect("push");
        spool.push(None, evidence("c", 1_000)).await.expect("push");
        assert!(outbox(&spool)[0].1.is_some(), "seq 1 replaced");
        spool.ack(1).await.expect("ack");
        assert_eq!(
            outbox(&spool).iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(spool.pending_bytes(), stored_bytes(&spool));
    }
}

#[cfg(test)]
mod disk_full_tests {
    use super::*;

    /// A tmpfs of `mib` MiB, unmounted on drop; `None` (the test is skipped, saying why) where
    /// this process may not mount.
    struct Tmpfs(tempfile::TempDir);

    impl Tmpfs {
        fn mount(mib: u32) -> Option<Tmpfs> {
            let dir = tempfile::tempdir().expect("tempdir");
            let mounted = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
                .arg(dir.path())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !mounted {
                eprintln!(
                    "skipped: mounting a tmpfs at {} needs CAP_SYS_ADMIN, which this process lacks",
                    dir.path().display()
                );
                return None;
            }
            Some(Tmpfs(dir))
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }

    fn padded(seq: u64) -> Vec<u8> {
        format!(r#"{{"seq":{seq},"pad":"{}"}}"#, "y".repeat(3000)).into_bytes()
    }

    /// A disk that fills anyway (here another process takes all but 256 KiB of a 4 MiB tmpfs,
    /// under the floor): pushes store loss records while they can, then return the error; nothing
    /// panics. sled cannot reopen until there is room, which is why pushes stop writing frames at
    /// the floor (next test).
    #[tokio::test]
    async fn a_push_on_a_full_disk_returns_the_error() {
        let Some(disk) = Tmpfs::mount(4) else { return };
        let spool = Spool::open_unbounded(&disk.0.path().join("spool")).expect("open");
        let free = fs2::available_space(disk.0.path()).expect("free");
        std::fs::write(
            disk.0.path().join("other"),
            vec![0u8; (free - 256 * 1024) as usize],
        )
        .expect("fill");
        let mut stored = 0i64;
        let failure = loop {
            let memo = AlarmMemo {
                state: "ALARM".into(),
                handled_transition: Some(stored),
            };
            match spool.push(Some(("cpu", &memo)), padded).await {
                Ok(_) => stored += 1,
                Err(e) => break e,
            }
            assert!(stored < 100_000, "a 256 KiB disk never filled");
        };
        assert!(
            failure.to_string().contains("No space left on device"),
            "{failure}"
        );
        // Nothing panicked, and the frames that were written are still there to be read.
        assert!(!spool.pending_after(0, 10).expect("pending").is_empty());
    }

    /// A small disk and a bound far above it: near the disk's floor, pushes store loss records
    /// instead of their frames and the records are merged, so a stream of pushes four times the
    /// disk's size never fills it.
    #[tokio::test]
    async fn the_free_space_floor_keeps_a_small_volume_from_filling() {
        let Some(disk) = Tmpfs::mount(16) else { return };
        let spool = Spool::open_with(&disk.0.path().join("spool"), 64 * 1024).expect("open");
        for i in 0..20_000 {
            if let Err(e) = spool.push(None, padded).await {
                panic!("push {i} failed on a bounded spool: {e}");
            }
        }
        let lost: u64 = spool
            .pending_after(0, 100_000)
            .expect("pending")
            .iter()
            .filter_map(
                |(_, b)| match AgentFrame::decode(std::str::from_utf8(b).ok()?) {
                    Ok(AgentFrame::Loss(l)) => l.frames,
                    _ => None,
                },
            )
            .sum();
        let kept = spool
            .pending_after(0, 100_000)
            .expect("pending")
            .iter()
            .filter(|(_, b)| !b.starts_with(br#"{"type":"loss""#))
            .count() as u64;
        assert!(lost > 10_000, "{lost} frames recorded lost");
        assert_eq!(
            lost + kept,
            20_000,
            "every push is a frame or counted in a record"
        );
    }
}
