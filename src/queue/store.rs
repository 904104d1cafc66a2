//! The on-disk queue: one directory (0700) holding, per message, `ID.msg` (the raw input as
//! read from stdin, immutable) and `ID.toml` (the [`Meta`]), plus `tmp/` for files being
//! written and `failed/` for messages set aside.
//!
//! Why this layout: a message is queued exactly when `ID.toml` exists. Both files are written
//! to `tmp/` first (O_EXCL, O_NOFOLLOW, 0600), fsynced, renamed into place (message first,
//! metadata last) and the directory is fsynced, so a crash at any moment leaves either a
//! complete entry or debris that [`Queue::cleanup`] removes. `flock` on the `.msg` file is the
//! per-message lock: the writer holds it from creation to commit, a flusher holds it from
//! before reading the metadata until the message is deleted or rescheduled, so no two
//! processes ever send the same message at the same time.

use super::meta::Meta;
use crate::error::{Error, Result, strerror};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Debris in `tmp/` younger than this is left alone (its writer may be between `open` and
/// `flock`).
const STALE_TMP: Duration = Duration::from_secs(60);

fn io_error(what: &str, path: &Path, e: &io::Error) -> Error {
    Error::io(format!("{what} {}: {}", path.display(), strerror(e)))
}

/// Creates a file that must not exist yet, is not followed through a symlink, and is 0600.
fn create_excl(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// `flock(LOCK_EX | LOCK_NB)`; false when another process holds it.
fn try_lock(f: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock only reads the descriptor number, which `f` keeps open.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A queue ID: time-ordered, unique per process and attempt, safe as a file name.
fn new_id(n: u32) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:09x}{:05x}-{:x}{}",
        t.as_secs(),
        t.subsec_micros(),
        std::process::id(),
        if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        }
    )
}

/// Whether `id` can be a queue ID (so user input never reaches outside the queue directory).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase() || b == b'-')
}

/// A queue directory.
#[derive(Clone, Debug)]
pub struct Queue {
    dir: PathBuf,
}

impl Queue {
    /// The queue directory, creating it (and `tmp/`, `failed/`) with mode 0700 if needed.
    ///
    /// Refused (exit 78) when any of the three is not owned by the effective user or is
    /// writable by group or others: metadata in the queue selects the config file and
    /// overrides (such as `passwordeval`) used at flush time, so a file planted in a shared
    /// directory would otherwise run commands as whoever flushes.
    pub fn open(dir: &Path) -> Result<Queue> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        let mut created = false;
        for d in [dir.to_path_buf(), dir.join("tmp"), dir.join("failed")] {
            if fs::symlink_metadata(&d).is_err() {
                created = true;
            }
            b.create(&d)
                .map_err(|e| io_error("cannot create queue directory", &d, &e))?;
            // Checked before anything is created inside it.
            check_dir(&d)?;
        }
        if created {
            // New directory entries must survive a crash as well as the files inside them.
            for d in [dir.parent(), Some(dir)].into_iter().flatten() {
                if !d.as_os_str().is_empty() {
                    sync_dir(d).map_err(|e| io_error("cannot sync queue directory", d, &e))?;
                }
            }
        }
        Ok(Queue {
            dir: dir.to_path_buf(),
        })
    }

    /// The queue directory if it exists (listing must not create anything): `Ok(None)` when
    /// it does not exist; an error when it (or its `tmp/` or `failed/`) is not
    /// a private directory of this user, as for [`Queue::open`].
    pub fn existing(dir: &Path) -> Result<Option<Queue>> {
        match fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot open queue directory", dir, &e)),
            Ok(_) => {}
        }
        check_dir(dir)?;
        for d in [dir.join("tmp"), dir.join("failed")] {
            if fs::symlink_metadata(&d).is_ok() {
                check_dir(&d)?;
            }
        }
        Ok(Some(Queue {
            dir: dir.to_path_buf(),
        }))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn msg_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.msg"))
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.toml"))
    }

    /// Writes the raw message (`head` then the rest of `rest`) to a locked temp file and
    /// fsyncs it. Nothing is queued until [`Spool::commit`].
    pub fn spool<R: BufRead>(&self, head: &[u8], rest: &mut R) -> Result<Spool> {
        let tmp = self.dir.join("tmp");
        let mut n = 0;
        let (id, path, file) = loop {
            let id = new_id(n);
            let path = tmp.join(format!("{id}.msg"));
            match create_excl(&path) {
                Ok(f) => break (id, path, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(io_error("cannot write to queue file", &path, &e)),
            }
        };
        let mut spool = Spool {
            queue: self.clone(),
            id,
            path,
            file,
            head_len: head.len() as u64,
            size: 0,
            done: false,
        };
        try_lock(&spool.file);
        let fail = |e: io::Error| io_error("cannot write to queue file", &spool.path, &e);
        let mut w = io::BufWriter::with_capacity(64 * 1024, &spool.file);
        w.write_all(head).map_err(fail)?;
        let mut copied = 0u64;
        loop {
            let chunk = match rest.fill_buf() {
                Ok([]) => break,
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Error::io("input error while reading the mail")),
            };
            let n = chunk.len();
            w.write_all(chunk).map_err(fail)?;
            rest.consume(n);
            copied += n as u64;
        }
        w.flush().map_err(fail)?;
        drop(w);
        spool.file.sync_all().map_err(fail)?;
        spool.size = head.len() as u64 + copied;
        Ok(spool)
    }

    /// IDs of queued messages (those with metadata), oldest first.
    pub fn ids(&self) -> Vec<String> {
        ids_in(&self.dir)
    }

    /// IDs of messages set aside in `failed/`.
    pub fn failed_ids(&self) -> Vec<String> {
        ids_in(&self.dir.join("failed"))
    }

    /// Reads a message's metadata without locking (for listing).
    pub fn read_meta(&self, id: &str) -> Result<Meta> {
        read_meta_at(&self.meta_path(id))
    }

    /// The raw message file, for `show`.
    pub fn open_message(&self, id: &str) -> Result<File> {
        let p = self.msg_path(id);
        let f = open_nofollow(&p).map_err(|e| io_error("cannot open queued message", &p, &e))?;
        check_file(&f, &p)?;
        Ok(f)
    }

    /// Locks a queued message for this process. `Ok(None)`: another process holds it, or it
    /// was delivered or removed in the meantime.
    pub fn lock(&self, id: &str) -> Result<Option<Locked>> {
        let p = self.msg_path(id);
        let file = match open_nofollow(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot open queued message", &p, &e)),
        };
        check_file(&file, &p)?;
        if !try_lock(&file) {
            return Ok(None);
        }
        // The lock is on this inode; make sure the name still points to it and the message is
        // still queued (a concurrent flusher may have finished it before we locked).
        let same = match (file.metadata(), fs::symlink_metadata(&p)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            return Ok(None);
        }
        let meta = match read_meta_at(&self.meta_path(id)) {
            Ok(m) => m,
            Err(_) if !self.meta_path(id).exists() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(Locked {
            queue: self.clone(),
            id: id.to_owned(),
            file,
            meta,
        }))
    }

    /// Removes debris left by crashed processes: temp files nobody holds, and message files
    /// whose metadata never got written (their submitter died before reporting success).
    pub fn cleanup(&self) {
        let tmp = self.dir.join("tmp");
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let p = e.path();
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TMP);
                if old
                    && let Ok(f) = open_nofollow(&p)
                    && try_lock(&f)
                {
                    let _ = fs::remove_file(&p);
                }
            }
        }
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".msg") else {
                continue;
            };
            if self.meta_path(id).exists() {
                continue;
            }
            let p = self.msg_path(id);
            if let Ok(f) = open_nofollow(&p)
                && try_lock(&f)
                && !self.meta_path(id).exists()
            {
                // Metadata is written before the submitter unlocks, so under our lock its
                // absence is final: nobody reported this message as queued.
                let _ = fs::remove_file(&p);
            }
        }
        // Metadata without a message: an interrupted move to failed/ or delete.
        for id in self.ids() {
            if !self.msg_path(&id).exists() {
                let failed = self.dir.join("failed");
                if failed.join(format!("{id}.msg")).exists() {
                    let _ = fs::rename(self.meta_path(&id), failed.join(format!("{id}.toml")));
                } else {
                    let _ = fs::remove_file(self.meta_path(&id));
                }
            }
        }
    }

    /// Writes metadata atomically: temp file, fsync, rename, directory fsync.
    fn write_meta(&self, meta: &Meta) -> Result<()> {
        let tmp = self
            .dir
            .join("tmp")
            .join(format!("{}.toml.{}", meta.id, std::process::id()));
        let _ = fs::remove_file(&tmp);
        let fail = |e: io::Error| io_error("cannot write to queue file", &tmp, &e);
        let mut f = create_excl(&tmp).map_err(fail)?;
        let res = f
            .write_all(meta.to_toml().as_bytes())
            .and_then(|()| f.sync_all());
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(fail(e));
        }
        let dest = self.meta_path(&meta.id);
        fs::rename(&tmp, &dest).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_error("cannot write to queue file", &dest, &e)
        })?;
        sync_dir(&self.dir).map_err(|e| io_error("cannot sync queue directory", &self.dir, &e))
    }
}

fn ids_in(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.strip_suffix(".toml")
                        .filter(|id| valid_id(id))
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// A queue directory must be a real directory (not a symlink), owned by the effective user and
/// not writable by group or others; read or search bits for others are removed.
fn check_dir(dir: &Path) -> Result<()> {
    let md =
        fs::symlink_metadata(dir).map_err(|e| io_error("cannot open queue directory", dir, &e))?;
    if !md.is_dir() {
        return Err(Error::io(format!(
            "queue directory {} is not a directory",
            dir.display()
        )));
    }
    let euid = crate::config::paths::euid();
    if md.uid() != euid {
        return Err(Error::config(format!(
            "queue directory {} is owned by uid {}, not by you (uid {euid}); refusing to use it",
            dir.display(),
            md.uid()
        )));
    }
    let mode = md.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(Error::config(format!(
            "queue directory {} is writable by group or others (mode {:o}); refusing to use it",
            dir.display(),
            mode & 0o7777
        )));
    }
    if mode & 0o077 != 0 {
        // Our own directory, only too readable: mail is private, so tighten it (and say so if
        // that is impossible rather than carry on with readable mail).
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error("cannot change the mode of queue directory", dir, &e))?;
    }
    Ok(())
}

/// A queue file is trusted only if it is a regular file owned by the effective user and not
/// writable by group or others (checked on the open descriptor, so no swap after the check).
fn check_file(f: &File, path: &Path) -> Result<()> {
    let md = f
        .metadata()
        .map_err(|e| io_error("cannot read queue file", path, &e))?;
    let euid = crate::config::paths::euid();
    let why = if !md.is_file() {
        "not a regular file".to_owned()
    } else if md.uid() != euid {
        format!("owned by uid {}, not by you (uid {euid})", md.uid())
    } else if md.permissions().mode() & 0o022 != 0 {
        "writable by group or others".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::config(format!(
        "ignoring queue file {}: {why}",
        path.display()
    )))
}

fn read_meta_at(path: &Path) -> Result<Meta> {
    let mut text = String::new();
    let mut f = open_nofollow(path).map_err(|e| io_error("cannot read queue file", path, &e))?;
    check_file(&f, path)?;
    f.read_to_string(&mut text)
        .map_err(|e| io_error("cannot read queue file", path, &e))?;
    Meta::from_toml(&text)
        .map_err(|e| Error::io(format!("invalid queue file {}: {e}", path.display())))
}

/// A message being submitted: spooled to `tmp/`, locked, not yet queued. Dropping it without
/// [`Spool::commit`] removes the temp file.
#[derive(Debug)]
pub struct Spool {
    queue: Queue,
    id: String,
    path: PathBuf,
    file: File,
    head_len: u64,
    size: u64,
    done: bool,
}

impl Spool {
    /// The ID the message gets when committed.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The spooled bytes after the header block (the header block is already parsed).
    pub fn body_reader(&self) -> Result<io::BufReader<File>> {
        let mut f = open_nofollow(&self.path)
            .map_err(|e| io_error("cannot read queue file", &self.path, &e))?;
        f.seek(SeekFrom::Start(self.head_len))
            .map_err(|e| io_error("cannot read queue file", &self.path, &e))?;
        Ok(io::BufReader::with_capacity(64 * 1024, f))
    }

    /// Queues the message: metadata written, message and metadata renamed into place,
    /// directory fsynced. Returns the ID. Only after this returns may the caller report success.
    pub fn commit(mut self, meta: &mut Meta) -> Result<String> {
        meta.id = self.id.clone();
        meta.size = self.size;
        let dest = self.queue.msg_path(&self.id);
        fs::rename(&self.path, &dest)
            .map_err(|e| io_error("cannot write to queue file", &dest, &e))?;
        self.path = dest;
        let res = self.queue.write_meta(meta);
        if let Err(e) = res {
            // Without metadata the message is not queued; do not leave a half entry.
            let _ = fs::remove_file(&self.path);
            self.done = true;
            return Err(e);
        }
        self.done = true;
        // The lock goes with `self.file` when it is dropped here, after the metadata exists.
        Ok(self.id.clone())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A queued message locked by this process. The lock is released when it is dropped.
pub struct Locked {
    queue: Queue,
    id: String,
    file: File,
    /// Its metadata (changes are written with [`Locked::save`]).
    pub meta: Meta,
}

impl Locked {
    /// The queue ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw message from its start.
    pub fn reader(&self) -> Result<io::BufReader<File>> {
        let p = self.queue.msg_path(&self.id);
        let mut f = self
            .file
            .try_clone()
            .map_err(|e| io_error("cannot read queue file", &p, &e))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| io_error("cannot read queue file", &p, &e))?;
        Ok(io::BufReader::with_capacity(64 * 1024, f))
    }

    /// Writes the changed metadata.
    pub fn save(&self) -> Result<()> {
        self.queue.write_meta(&self.meta)
    }

    /// Removes the message (delivered, or deleted by the user). Metadata goes first: once it
    /// is gone the message is no longer queued, whatever happens next.
    pub fn remove(self) -> Result<()> {
        let mp = self.queue.meta_path(&self.id);
        fs::remove_file(&mp).map_err(|e| io_error("cannot remove queue file", &mp, &e))?;
        let _ = fs::remove_file(self.queue.msg_path(&self.id));
        let _ = sync_dir(&self.queue.dir);
        Ok(())
    }

    /// Moves the message and its metadata to `failed/` (message first, so an interruption
    /// never leaves metadata pointing nowhere in `failed/`).
    pub fn move_to_failed(self) -> Result<PathBuf> {
        let failed = self.queue.dir.join("failed");
        let msg_dest = failed.join(format!("{}.msg", self.id));
        fs::rename(self.queue.msg_path(&self.id), &msg_dest)
            .map_err(|e| io_error("cannot move queue file to", &failed, &e))?;
        self.queue.write_meta(&self.meta)?;
        fs::rename(
            self.queue.meta_path(&self.id),
            failed.join(format!("{}.toml", self.id)),
        )
        .map_err(|e| io_error("cannot move queue file to", &failed, &e))?;
        let _ = sync_dir(&failed);
        let _ = sync_dir(&self.queue.dir);
        Ok(msg_dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::meta::{Origin, StoredRewrite};
    use crate::smtp::Envelope;

    fn meta() -> Meta {
        Meta::new(
            "",
            Origin::default(),
            &Envelope {
                from: "a@x".into(),
                recipients: vec!["b@y".into()],
            },
            StoredRewrite::default(),
        )
    }

    fn enqueue(q: &Queue, text: &str) -> String {
        let sp = q.spool(b"", &mut text.as_bytes()).expect("spool");
        sp.commit(&mut meta()).expect("commit")
    }

    #[test]
    fn queue_directory_is_created_private() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(&t.path().join("a/b")).expect("open");
        let mode = fs::metadata(q.dir()).expect("md").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn committed_message_is_private_and_complete() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let sp = q
            .spool(b"Subject: x\n\n", &mut &b"body\n"[..])
            .expect("spool");
        let mut m = meta();
        let id = sp.commit(&mut m).expect("commit");
        assert_eq!(q.ids(), vec![id.clone()]);
        let p = q.msg_path(&id);
        assert_eq!(
            fs::metadata(&p).expect("md").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read(&p).expect("read"), b"Subject: x\n\nbody\n");
        assert_eq!(q.read_meta(&id).expect("meta").size, 17);
        assert_eq!(fs::read_dir(t.path().join("tmp")).expect("tmp").count(), 0);
    }

    #[test]
    fn metadata_files_are_private_too() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        let mode = fs::metadata(q.meta_path(&id))
            .expect("md")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        for sub in ["tmp", "failed"] {
            let mode = fs::metadata(t.path().join(sub))
                .expect("md")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{sub}");
        }
    }

    #[test]
    fn a_symlinked_queue_directory_is_refused() {
        let t = tempfile::tempdir().expect("tempdir");
        fs::create_dir(t.path().join("real")).expect("mkdir");
        std::os::unix::fs::symlink(t.path().join("real"), t.path().join("link")).expect("ln");
        let e = Queue::open(&t.path().join("link")).expect_err("must refuse");
        assert_eq!(e.exit, crate::error::Sysexit::IoErr);
    }

    #[test]
    fn files_are_never_created_through_a_planted_symlink() {
        let t = tempfile::tempdir().expect("tempdir");
        let target = t.path().join("victim");
        std::os::unix::fs::symlink(&target, t.path().join("planted")).expect("ln");
        let e = create_excl(&t.path().join("planted")).expect_err("O_EXCL|O_NOFOLLOW");
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(!target.exists());
        fs::write(&target, "x").expect("write");
        assert!(open_nofollow(&t.path().join("planted")).is_err());
    }

    #[test]
    fn uncommitted_spool_leaves_nothing() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        drop(q.spool(b"x", &mut &b"y"[..]).expect("spool"));
        assert!(q.ids().is_empty());
        assert_eq!(fs::read_dir(t.path().join("tmp")).expect("tmp").count(), 0);
    }

    #[test]
    fn a_locked_message_cannot_be_locked_twice() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        let l = q.lock(&id).expect("lock").expect("free");
        assert!(q.lock(&id).expect("lock").is_none());
        drop(l);
        assert!(q.lock(&id).expect("lock").is_some());
    }

    #[test]
    fn a_removed_message_is_not_locked_by_a_late_flusher() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        q.lock(&id)
            .expect("lock")
            .expect("free")
            .remove()
            .expect("rm");
        assert!(q.lock(&id).expect("lock").is_none());
        assert!(q.ids().is_empty());
    }

    #[test]
    fn cleanup_removes_message_without_metadata_but_not_queued_ones() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "kept");
        fs::write(q.msg_path("0000000000000-1"), "orphan").expect("write");
        q.cleanup();
        assert!(!q.msg_path("0000000000000-1").exists());
        assert!(q.msg_path(&id).exists());
        assert_eq!(q.ids(), vec![id]);
    }

    #[test]
    fn failed_messages_are_moved_not_deleted() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        let l = q.lock(&id).expect("lock").expect("free");
        l.move_to_failed().expect("move");
        assert!(q.ids().is_empty());
        assert_eq!(q.failed_ids(), vec![id.clone()]);
        assert!(t.path().join("failed").join(format!("{id}.msg")).exists());
    }

    #[test]
    fn ids_from_users_cannot_escape_the_directory() {
        assert!(valid_id("19a2b3c4d0f4240-1a2b"));
        assert!(!valid_id("../x"));
        assert!(!valid_id("a/b"));
        assert!(!valid_id(""));
        assert!(!valid_id("ABC"));
    }

    #[test]
    fn unwritable_queue_is_a_loud_io_error() {
        if crate::config::paths::euid() == 0 {
            return; // root writes anywhere
        }
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        fs::set_permissions(t.path().join("tmp"), fs::Permissions::from_mode(0o500))
            .expect("chmod");
        let e = q.spool(b"", &mut &b"x"[..]).expect_err("must fail");
        assert_eq!(e.exit, crate::error::Sysexit::IoErr);
        assert!(
            e.message.starts_with("cannot write to queue file"),
            "{}",
            e.message
        );
    }

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Gives `p` to another user; `false` when not root (then the case cannot be set up).
    fn give_away(p: &Path) -> bool {
        if crate::config::paths::euid() != 0 {
            return false;
        }
        std::os::unix::fs::lchown(p, Some(65534), Some(65534)).expect("chown");
        true
    }

    #[test]
    fn queue_dir_writable_by_group_or_others_is_refused() {
        for mode in [0o777, 0o770, 0o1777] {
            let t = tempfile::tempdir().expect("tempdir");
            let d = t.path().join("q");
            fs::create_dir(&d).expect("mkdir");
            chmod(&d, mode);
            let e = Queue::open(&d).expect_err("must refuse");
            assert_eq!(e.exit, crate::error::Sysexit::Config, "{}", e.message);
            assert!(
                e.message.contains("writable by group or others"),
                "{}",
                e.message
            );
            assert!(Queue::existing(&d).is_err());
            assert!(
                !d.join("tmp").exists(),
                "nothing is created in a refused directory"
            );
        }
    }

    #[test]
    fn queue_dir_of_another_user_is_refused() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path().join("q");
        fs::create_dir(&d).expect("mkdir");
        chmod(&d, 0o700);
        if !give_away(&d) {
            return;
        }
        let e = Queue::open(&d).expect_err("must refuse");
        assert_eq!(e.exit, crate::error::Sysexit::Config);
        assert!(e.message.contains("not by you"), "{}", e.message);
        assert!(Queue::existing(&d).is_err());
    }

    #[test]
    fn tmp_and_failed_are_checked_like_the_queue_dir() {
        for sub in ["tmp", "failed"] {
            let t = tempfile::tempdir().expect("tempdir");
            Queue::open(t.path()).expect("open");
            chmod(&t.path().join(sub), 0o733);
            assert!(Queue::open(t.path()).is_err(), "{sub}");
            assert!(Queue::existing(t.path()).is_err(), "{sub}");
        }
    }

    #[test]
    fn own_readable_queue_dir_is_tightened_to_0700() {
        let t = tempfile::tempdir().expect("tempdir");
        chmod(t.path(), 0o755);
        Queue::open(t.path()).expect("open");
        let mode = fs::metadata(t.path()).expect("md").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn group_writable_or_foreign_queue_files_are_not_trusted() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        chmod(&q.meta_path(&id), 0o620);
        let e = q.read_meta(&id).expect_err("metadata must be refused");
        assert!(
            e.message.starts_with("ignoring queue file"),
            "{}",
            e.message
        );
        assert!(q.lock(&id).is_err());
        chmod(&q.meta_path(&id), 0o600);
        assert!(q.read_meta(&id).is_ok());
        chmod(&q.msg_path(&id), 0o606);
        assert!(q.lock(&id).is_err(), "message file must be refused");
        assert!(q.open_message(&id).is_err());
        chmod(&q.msg_path(&id), 0o600);
        assert!(q.lock(&id).expect("lock").is_some());
        if give_away(&q.meta_path(&id)) {
            let e = q.read_meta(&id).expect_err("foreign owner");
            assert!(e.message.contains("not by you"), "{}", e.message);
        }
    }
}
