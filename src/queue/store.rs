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
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{
    DirBuilderExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};
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

/// The largest metadata file read: real ones are a few hundred bytes, and reading must be
/// bounded whatever was put in the directory.
pub const MAX_META_BYTES: u64 = 1 << 20;

/// Why a queue file cannot be used.
#[derive(Debug)]
pub enum FileError {
    /// It does not exist (any more).
    Missing,
    /// It is not what postie wrote (not a regular file, too large, unparseable, changed): the
    /// entry is set aside and reported. The text names the file and what is wrong.
    Damaged(String),
    /// Not this user's private file, or unreadable: left alone and reported.
    Refused(Error),
}

impl FileError {
    /// The error to report for queue entry `id`.
    pub fn into_error(self, id: &str) -> Error {
        match self {
            FileError::Missing => Error::new(
                crate::error::Sysexit::NoInput,
                format!("no queued message {id}"),
            ),
            FileError::Damaged(why) => damaged_error(id, &why),
            FileError::Refused(e) => e,
        }
    }
}

/// A damaged entry as an error (exit 74: a queue file could not be read as written).
pub fn damaged_error(id: &str, why: &str) -> Error {
    Error::io(format!("queued message {id} is damaged: {why}"))
}

/// What a file is, for a message saying why it is not a regular file.
fn kind(t: fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

fn not_regular(path: &Path, t: fs::FileType) -> FileError {
    FileError::Damaged(format!(
        "{} is {}, not a regular file",
        file_name(path),
        kind(t)
    ))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Opens a queue file for reading without ever blocking or following a symlink: a FIFO put at
/// `ID.msg` would otherwise hang `open` until a writer comes, and a symlink could point
/// anywhere. Only a regular file owned by this user and not writable by group or others is
/// returned (checked on the descriptor, so nothing can be swapped in after the check), in
/// blocking mode again.
fn open_checked(path: &Path) -> std::result::Result<File, FileError> {
    let f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FileError::Missing),
        Err(e) => {
            // ELOOP (a symlink), ENXIO (a socket), EACCES...: say what is there if it is not a
            // regular file, else why it could not be opened.
            return Err(match fs::symlink_metadata(path) {
                Ok(md) if !md.is_file() => not_regular(path, md.file_type()),
                _ => FileError::Refused(io_error("cannot read queue file", path, &e)),
            });
        }
    };
    let md = f
        .metadata()
        .map_err(|e| FileError::Refused(io_error("cannot read queue file", path, &e)))?;
    if !md.is_file() {
        return Err(not_regular(path, md.file_type()));
    }
    check_file(&f, path).map_err(FileError::Refused)?;
    set_blocking(&f)
        .map_err(|e| FileError::Refused(io_error("cannot read queue file", path, &e)))?;
    Ok(f)
}

/// Clears `O_NONBLOCK` (set only so that `open` cannot hang on a FIFO).
fn set_blocking(f: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: fcntl with F_GETFL/F_SETFL only reads and sets the flags of `fd`, which `f`
    // keeps open for the duration of the calls.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
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
        self.spool_or_salvage(head, rest).map_err(|u| *u.error)
    }

    /// [`Queue::spool`], but when the queue fails (no space, not writable) the bytes of the
    /// body already taken from `rest` stay readable through [`Unspooled::taken`], and `rest`
    /// is left at the first byte not taken, so that the caller can still send the message
    /// directly. Every write is counted, so a short write on a full disk loses nothing.
    pub fn spool_or_salvage<R: BufRead>(
        &self,
        head: &[u8],
        rest: &mut R,
    ) -> std::result::Result<Spool, Unspooled> {
        let tmp = self.dir.join("tmp");
        let mut n = 0;
        let (id, path, file) = loop {
            let id = new_id(n);
            let path = tmp.join(format!("{id}.msg"));
            match create_excl(&path) {
                Ok(f) => break (id, path, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => {
                    return Err(Unspooled::queue(io_error(
                        "cannot write to queue file",
                        &path,
                        &e,
                    )));
                }
            }
        };
        let mut spool = Spool {
            queue: self.clone(),
            id,
            path,
            file,
            head_len: head.len() as u64,
            size: 0,
            sha256: String::new(),
            done: false,
        };
        try_lock(&spool.file);
        let mut hash = Sha256::new();
        // Bytes known to be in the file.
        let mut written = 0u64;
        if let Err(e) = write_counted(&spool.file, head, &mut written) {
            return Err(spool.salvage(&e, written));
        }
        hash.update(head);
        loop {
            let chunk = match rest.fill_buf() {
                Ok([]) => break,
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    return Err(Unspooled {
                        error: Box::new(Error::io("input error while reading the mail")),
                        no_fallback: true,
                        taken: None,
                    });
                }
            };
            let n = chunk.len();
            let before = written;
            if let Err(e) = write_counted(&spool.file, chunk, &mut written) {
                // What reached the file is taken; the rest of the chunk stays in `rest`.
                rest.consume((written - before) as usize);
                return Err(spool.salvage(&e, written));
            }
            hash.update(chunk);
            rest.consume(n);
        }
        if let Err(e) = spool.file.sync_all() {
            return Err(spool.salvage(&e, written));
        }
        spool.size = written;
        spool.sha256 = hex(&hash.finalize());
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
    pub fn read_meta(&self, id: &str) -> std::result::Result<Meta, FileError> {
        read_meta_at(&self.meta_path(id), id)
    }

    /// The raw message file, for `show`.
    pub fn open_message(&self, id: &str) -> Result<File> {
        open_checked(&self.msg_path(id)).map_err(|e| e.into_error(id))
    }

    /// What a listing can tell about the message file without opening it: `Some(why)` when
    /// the entry is damaged (message file missing or not a regular file).
    pub fn message_problem(&self, id: &str) -> Option<String> {
        match fs::symlink_metadata(self.msg_path(id)) {
            Ok(md) if md.is_file() => None,
            Ok(md) => match not_regular(&self.msg_path(id), md.file_type()) {
                FileError::Damaged(why) => Some(why),
                _ => None,
            },
            Err(_) => self
                .message_lost(id)
                .then(|| format!("{id}.msg is missing")),
        }
    }

    /// [`Locked::verify`] without locking: a dry run must not take locks, or a flusher running
    /// at the same time would skip the message as busy.
    pub fn check_message(&self, id: &str, meta: &Meta) -> std::result::Result<bool, FileError> {
        let f = open_checked(&self.msg_path(id)).map_err(|e| match e {
            FileError::Missing if self.message_lost(id) => {
                FileError::Damaged(format!("{id}.msg is missing"))
            }
            e => e,
        })?;
        verify_file(&f, id, meta).map_err(FileError::Damaged)
    }

    /// Whether `ID.msg` is gone while its metadata stays. A message is removed metadata first
    /// and moved to `failed/` message first, so metadata still here with no message here or
    /// in `failed/` (looked at in this order) means the message file was lost, not delivered.
    fn message_lost(&self, id: &str) -> bool {
        fs::symlink_metadata(self.msg_path(id)).is_err()
            && fs::symlink_metadata(self.dir.join("failed").join(format!("{id}.msg"))).is_err()
            && fs::symlink_metadata(self.meta_path(id)).is_ok()
    }

    /// Locks a queued message for this process.
    ///
    /// `Err`: a file that is not this user's private one (left alone).
    pub fn lock(&self, id: &str) -> Result<Claim> {
        let p = self.msg_path(id);
        let damaged = |why: String| {
            Claim::Damaged(Damaged {
                queue: self.clone(),
                id: id.to_owned(),
                meta: self.read_meta(id).ok(),
                why,
                _lock: None,
            })
        };
        let file = match open_checked(&p) {
            Ok(f) => f,
            Err(FileError::Missing) if self.message_lost(id) => {
                return Ok(damaged(format!("{id}.msg is missing")));
            }
            Err(FileError::Missing) => return Ok(Claim::Gone),
            // Nobody can be sending what is not a regular file, so no lock is needed.
            Err(FileError::Damaged(why)) => return Ok(damaged(why)),
            Err(FileError::Refused(e)) => return Err(e),
        };
        if !try_lock(&file) {
            return Ok(Claim::Gone);
        }
        // The lock is on this inode; make sure the name still points to it and the message is
        // still queued (a concurrent flusher may have finished it before we locked).
        let same = match (file.metadata(), fs::symlink_metadata(&p)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            return Ok(Claim::Gone);
        }
        match read_meta_at(&self.meta_path(id), id) {
            Ok(meta) => Ok(Claim::Mine(Locked {
                queue: self.clone(),
                id: id.to_owned(),
                file,
                meta,
            })),
            Err(FileError::Missing) => Ok(Claim::Gone),
            Err(FileError::Damaged(why)) => Ok(Claim::Damaged(Damaged {
                queue: self.clone(),
                id: id.to_owned(),
                meta: None,
                why,
                _lock: Some(file),
            })),
            Err(FileError::Refused(e)) => Err(e),
        }
    }

    /// Removes debris left by crashed processes: temp files nobody holds, and message files
    /// whose metadata never got written (their submitter died before reporting success).
    /// Returns what it found damaged: entries whose message file is missing (their metadata
    /// moved to `failed/`), message files that are not regular files (moved to `failed/`), and
    /// non-regular files in `tmp/` (left alone). Nothing here opens a file that could block.
    pub fn cleanup(&self) -> Vec<Damage> {
        self.sweep(true)
    }

    /// What [`Queue::cleanup`] would report, changing nothing (for a dry run).
    pub fn survey(&self) -> Vec<Damage> {
        self.sweep(false)
    }

    fn sweep(&self, act: bool) -> Vec<Damage> {
        let mut found = Vec::new();
        let would = || {
            Err(format!(
                "would be set aside in {}",
                self.dir.join("failed").display()
            ))
        };
        let tmp = self.dir.join("tmp");
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let p = e.path();
                let Ok(md) = fs::symlink_metadata(&p) else {
                    continue;
                };
                if !md.is_file() {
                    if let FileError::Damaged(why) = not_regular(&p, md.file_type()) {
                        found.push(Damage {
                            id: None,
                            path: p,
                            why,
                            meta: None,
                            moved: Err("left in place".to_owned()),
                        });
                    }
                    continue;
                }
                let old = md
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TMP);
                if act
                    && old
                    && let Ok(f) = open_checked(&p)
                    && try_lock(&f)
                {
                    let _ = fs::remove_file(&p);
                }
            }
        }
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return found;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".msg").filter(|id| valid_id(id)) else {
                continue;
            };
            if fs::symlink_metadata(self.meta_path(id)).is_ok() {
                continue;
            }
            let p = self.msg_path(id);
            match fs::symlink_metadata(&p) {
                Ok(md) if md.is_file() => {}
                Ok(md) => {
                    // Not debris of ours (postie only writes regular files): set aside.
                    let why = match not_regular(&p, md.file_type()) {
                        FileError::Damaged(why) => why,
                        _ => continue,
                    };
                    let failed = self.dir.join("failed");
                    let moved = if act {
                        fs::rename(&p, failed.join(&name))
                            .map(|()| failed)
                            .map_err(|e| strerror(&e))
                    } else {
                        would()
                    };
                    found.push(Damage {
                        id: None,
                        path: p,
                        why,
                        meta: None,
                        moved,
                    });
                    continue;
                }
                Err(_) => continue,
            }
            if act
                && let Ok(f) = open_checked(&p)
                && try_lock(&f)
                && fs::symlink_metadata(self.meta_path(id)).is_err()
            {
                // Metadata is written before the submitter unlocks, so under our lock its
                // absence is final: nobody reported this message as queued.
                let _ = fs::remove_file(&p);
            }
        }
        // Metadata without a message: an interrupted move to failed/, or a lost message file.
        for id in self.ids() {
            if fs::symlink_metadata(self.msg_path(&id)).is_ok() {
                continue;
            }
            let failed = self.dir.join("failed");
            if fs::symlink_metadata(failed.join(format!("{id}.msg"))).is_ok() {
                if act {
                    let _ = fs::rename(self.meta_path(&id), failed.join(format!("{id}.toml")));
                }
            } else if self.message_lost(&id) {
                let meta = self.read_meta(&id).ok();
                let d = Damaged {
                    queue: self.clone(),
                    id: id.clone(),
                    meta,
                    why: format!("{id}.msg is missing"),
                    _lock: None,
                };
                found.push(if act {
                    d.set_aside()
                } else {
                    Damage {
                        id: Some(d.id),
                        path: self.msg_path(&id),
                        why: d.why,
                        meta: d.meta,
                        moved: would(),
                    }
                });
            }
        }
        found
    }

    /// Writes metadata atomically: temp file, fsync, rename, directory fsync.
    fn write_meta(&self, meta: &Meta) -> Result<()> {
        if !valid_id(&meta.id) {
            return Err(Error::io(format!(
                "invalid queue ID {} in metadata",
                crate::ui::sanitize(&meta.id)
            )));
        }
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

/// Reads and checks `ID.toml`: a regular private file of at most [`MAX_META_BYTES`], valid
/// TOML, naming the same ID (metadata chooses file names when it is rewritten).
fn read_meta_at(path: &Path, id: &str) -> std::result::Result<Meta, FileError> {
    let f = open_checked(path)?;
    let name = file_name(path);
    let too_big = |n: u64| {
        FileError::Damaged(format!(
            "{name} is {n} bytes, more than the 1 MiB a metadata file may have"
        ))
    };
    let len = f
        .metadata()
        .map_err(|e| FileError::Refused(io_error("cannot read queue file", path, &e)))?
        .len();
    if len > MAX_META_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::new();
    // Bounded again while reading: the file may grow after the check.
    f.take(MAX_META_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::Refused(io_error("cannot read queue file", path, &e)))?;
    if bytes.len() as u64 > MAX_META_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| FileError::Damaged(format!("{name} is not UTF-8 text")))?;
    let meta = Meta::from_toml(&text).map_err(|e| {
        let first = e.lines().next().unwrap_or_default().to_owned();
        FileError::Damaged(format!("{name} cannot be parsed: {first}"))
    })?;
    if meta.id != id {
        return Err(FileError::Damaged(format!(
            "{name} names another queue ID ({})",
            meta.id
        )));
    }
    Ok(meta)
}

/// [`Locked::verify`] on any descriptor of the message file.
fn verify_file(file: &File, id: &str, meta: &Meta) -> std::result::Result<bool, String> {
    let name = format!("{id}.msg");
    let unreadable = |e: io::Error| format!("{name} cannot be read: {}", strerror(&e));
    let len = file.metadata().map_err(unreadable)?.len();
    if len != meta.size {
        return Err(format!("{name} has {len} bytes, {} were queued", meta.size));
    }
    let Some(expected) = &meta.sha256 else {
        return Ok(false);
    };
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0u64;
    while at < len {
        let want = usize::try_from(len - at).map_or(buf.len(), |n| n.min(buf.len()));
        match file.read_at(&mut buf[..want], at) {
            Ok(0) => return Err(format!("{name} became shorter while being checked")),
            Ok(n) => {
                hash.update(&buf[..n]);
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreadable(e)),
        }
    }
    if hex(&hash.finalize()) != *expected {
        return Err(format!(
            "{name} changed since it was queued (SHA-256 mismatch)"
        ));
    }
    Ok(true)
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `write_all` that adds every byte that reached the file to `written`, also when it fails.
fn write_counted(mut f: &File, mut buf: &[u8], written: &mut u64) -> io::Result<()> {
    while !buf.is_empty() {
        match f.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                *written += n as u64;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Why a message could not be spooled, and what a direct send needs to go on without the
/// queue.
#[derive(Debug)]
pub struct Unspooled {
    /// The error (`cannot write to queue file ...`, or the input's); boxed to keep the
    /// `Result` small.
    pub error: Box<Error>,
    /// Nothing can be sent without the queue either: reading the input failed, or bytes
    /// taken from it cannot be read back.
    pub no_fallback: bool,
    /// The body bytes taken from the input before the queue failed: a descriptor of the
    /// removed temp file at the start of the body, and how many bytes follow.
    taken: Option<(File, u64)>,
}

impl From<Error> for Unspooled {
    /// The queue directory itself cannot be used; nothing was read.
    fn from(error: Error) -> Unspooled {
        Unspooled::queue(error)
    }
}

impl Unspooled {
    fn queue(error: Error) -> Unspooled {
        Unspooled {
            error: Box::new(error),
            no_fallback: false,
            taken: None,
        }
    }

    /// The part of the body already read from the input, to be sent before the rest of it;
    /// `None` when nothing of the body was taken.
    pub fn taken(&mut self) -> Option<io::Take<io::BufReader<File>>> {
        self.taken
            .take()
            .map(|(f, n)| io::BufReader::with_capacity(64 * 1024, f).take(n))
    }
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
    sha256: String,
    done: bool,
}

impl Spool {
    /// Gives up spooling after `e`, with `written` bytes in the file: the body part of them is
    /// kept readable through a new descriptor (the file itself is removed on drop).
    fn salvage(self, e: &io::Error, written: u64) -> Unspooled {
        let error = io_error("cannot write to queue file", &self.path, e);
        let body = written.saturating_sub(self.head_len);
        let taken = if body == 0 {
            None
        } else {
            match open_nofollow(&self.path).and_then(|mut f| {
                f.seek(SeekFrom::Start(self.head_len))?;
                Ok(f)
            }) {
                Ok(f) => Some((f, body)),
                Err(re) => {
                    // Part of the input is gone with no way back: nothing may be sent.
                    return Unspooled {
                        error: Box::new(Error::io(format!(
                            "{}; cannot read back what was written: {}",
                            error.message,
                            strerror(&re)
                        ))),
                        no_fallback: true,
                        taken: None,
                    };
                }
            }
        };
        Unspooled {
            error: Box::new(error),
            no_fallback: false,
            taken,
        }
    }

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
        meta.sha256 = Some(self.sha256.clone());
        let dest = self.queue.msg_path(&self.id);
        fs::rename(&self.path, &dest)
            .map_err(|e| io_error("cannot write to queue file", &dest, &e))?;
        self.path = dest;
        let res = self.queue.write_meta(meta);
        if let Err(e) = res {
            // Without metadata the message is not queued; do not leave a half entry. The
            // metadata may exist if only the directory fsync failed: it goes first, as in
            // every removal, so metadata never points to a missing message.
            let _ = fs::remove_file(self.queue.meta_path(&self.id));
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

    /// The raw message from its start, as recorded: reading stops after the queued size, and
    /// a file that ends early or whose bytes do not match the recorded SHA-256 makes the read
    /// fail (an error of kind `InvalidData` whose text says why) instead of reaching its
    /// end, so a message changed after [`Locked::verify`] never gets its final dot.
    pub fn reader(&self) -> Result<io::BufReader<Verifying>> {
        let p = self.queue.msg_path(&self.id);
        let mut f = self
            .file
            .try_clone()
            .map_err(|e| io_error("cannot read queue file", &p, &e))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| io_error("cannot read queue file", &p, &e))?;
        Ok(io::BufReader::with_capacity(
            64 * 1024,
            Verifying {
                file: f,
                name: format!("{}.msg", self.id),
                left: self.meta.size,
                size: self.meta.size,
                hash: Sha256::new(),
                expected: self.meta.sha256.clone(),
                damage: None,
            },
        ))
    }

    /// Checks the message file against the size and SHA-256 recorded when it was queued,
    /// reading it once. `Ok(false)`: metadata of an older postie without a checksum, only the
    /// size could be checked. `Err(why)`: the entry is damaged.
    pub fn verify(&self) -> std::result::Result<bool, String> {
        verify_file(&self.file, &self.id, &self.meta)
    }

    /// Sets the entry aside in `failed/` as damaged, the reason recorded as its last error.
    pub fn set_aside_damaged(mut self, why: &str) -> Damage {
        self.meta.last_error = Some(format!("damaged: {why}"));
        let meta = self.meta.clone();
        let path = self.queue.msg_path(&self.id);
        let id = self.id.clone();
        let moved = self.move_to_failed().map_err(|e| e.message);
        Damage {
            id: Some(id),
            path,
            why: why.to_owned(),
            meta: Some(meta),
            moved,
        }
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
        let meta_dest = failed.join(format!("{}.toml", self.id));
        if let Err(e) = fs::rename(self.queue.meta_path(&self.id), &meta_dest) {
            // A concurrent cleanup finishes what looks like an interrupted move.
            if !(e.kind() == io::ErrorKind::NotFound && meta_dest.exists()) {
                return Err(io_error("cannot move queue file to", &failed, &e));
            }
        }
        let _ = sync_dir(&failed);
        let _ = sync_dir(&self.queue.dir);
        Ok(msg_dest)
    }
}

/// The result of [`Queue::lock`].
pub enum Claim {
    /// Locked for this process.
    Mine(Locked),
    /// Another process holds it, or it was delivered or removed in the meantime.
    Gone,
    /// The entry is damaged: it must be set aside (or deleted), never sent.
    Damaged(Damaged),
}

/// A damaged queue entry (its message file missing or not a regular file, its metadata not a
/// regular file, too large or unparseable), locked when its message file could be.
pub struct Damaged {
    queue: Queue,
    id: String,
    /// The metadata, when it could be read (for the log line).
    meta: Option<Meta>,
    why: String,
    _lock: Option<File>,
}

impl Damaged {
    /// The queue ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What is wrong, naming the file.
    pub fn why(&self) -> &str {
        &self.why
    }

    /// Moves whatever exists of the entry to `failed/`, the message first (as
    /// [`Locked::move_to_failed`]); readable metadata gets the reason as its last error.
    pub fn set_aside(self) -> Damage {
        let failed = self.queue.dir.join("failed");
        let path = self.queue.msg_path(&self.id);
        let moved = self.move_aside(&failed).map(|()| failed);
        Damage {
            id: Some(self.id),
            path,
            why: self.why,
            meta: self.meta,
            moved,
        }
    }

    fn move_aside(&self, failed: &Path) -> std::result::Result<(), String> {
        let q = &self.queue;
        let mv = |from: PathBuf, to: PathBuf| match fs::rename(&from, &to) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(format!(
                "cannot move {} to {}: {}",
                from.display(),
                failed.display(),
                strerror(&e)
            )),
            _ => Ok(()),
        };
        mv(
            q.msg_path(&self.id),
            failed.join(format!("{}.msg", self.id)),
        )?;
        if let Some(m) = &self.meta {
            let mut m = m.clone();
            m.last_error = Some(format!("damaged: {}", self.why));
            // The reason is worth keeping, but the metadata is moved even if it cannot be
            // rewritten.
            let _ = q.write_meta(&m);
        }
        mv(
            q.meta_path(&self.id),
            failed.join(format!("{}.toml", self.id)),
        )?;
        let _ = sync_dir(failed);
        let _ = sync_dir(&q.dir);
        Ok(())
    }

    /// Removes whatever exists of the entry (`postie queue delete`), metadata first.
    pub fn remove(self) -> Result<()> {
        for p in [
            self.queue.meta_path(&self.id),
            self.queue.msg_path(&self.id),
        ] {
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_error("cannot remove queue file", &p, &e));
                }
                _ => {}
            }
        }
        let _ = sync_dir(&self.queue.dir);
        Ok(())
    }
}

/// A damaged entry or stray file found and dealt with, for the report and the log line.
#[derive(Debug)]
pub struct Damage {
    /// The queue ID; `None` for a file that is not part of an entry.
    pub id: Option<String>,
    /// The message file (or the stray file).
    pub path: PathBuf,
    /// What is wrong, naming the file.
    pub why: String,
    /// The entry's metadata, when it could be read.
    pub meta: Option<Meta>,
    /// Where it was moved, or why it stayed where it is.
    pub moved: std::result::Result<PathBuf, String>,
}

impl Damage {
    /// The line for stderr (and the log line's error message).
    pub fn line(&self) -> String {
        let what = match &self.id {
            Some(id) => format!("queued message {id} is damaged: {}", self.why),
            None => format!(
                "queue file {} is damaged: {}",
                self.path.display(),
                self.why
            ),
        };
        let not_sent = if self.id.is_some() { ", not sent" } else { "" };
        match &self.moved {
            Ok(dir) => format!("{what}; set aside in {}{not_sent}", dir.display()),
            Err(why) => format!("{what}; {why}{not_sent}"),
        }
    }
}

/// The message file as it is sent: at most the queued size, failing with `InvalidData` (the
/// reason as its text) if the file ends early or its SHA-256 differs from the recorded one.
pub struct Verifying {
    file: File,
    name: String,
    left: u64,
    size: u64,
    hash: Sha256,
    expected: Option<String>,
    /// Why the file was found damaged, once it was: the message readers above this one turn
    /// read errors into their own texts, so the flush asks here.
    damage: Option<String>,
}

impl Verifying {
    /// The damage found while reading, if any.
    pub fn damage(&self) -> Option<&str> {
        self.damage.as_deref()
    }

    fn damaged(&mut self, why: String) -> io::Error {
        self.damage = Some(why.clone());
        io::Error::new(io::ErrorKind::InvalidData, why)
    }
}

impl Read for Verifying {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            if let Some(want) = self.expected.take()
                && hex(&self.hash.clone().finalize()) != want
            {
                return Err(self.damaged(format!(
                    "{} changed while it was sent (SHA-256 mismatch)",
                    self.name
                )));
            }
            return Ok(0);
        }
        let want = usize::try_from(self.left).map_or(buf.len(), |n| n.min(buf.len()));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            let why = format!(
                "{} ended after {} of {} bytes while it was sent",
                self.name,
                self.size - self.left,
                self.size
            );
            return Err(self.damaged(why));
        }
        self.hash.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;
    use crate::queue::meta::{Origin, StoredRewrite};

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

    impl Claim {
        fn mine(self) -> Locked {
            match self {
                Claim::Mine(l) => l,
                Claim::Gone => panic!("gone"),
                Claim::Damaged(d) => panic!("damaged: {}", d.why()),
            }
        }
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
        let l = q.lock(&id).expect("lock").mine();
        assert!(matches!(q.lock(&id).expect("lock"), Claim::Gone));
        drop(l);
        assert!(matches!(q.lock(&id).expect("lock"), Claim::Mine(_)));
    }

    #[test]
    fn a_removed_message_is_not_locked_by_a_late_flusher() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        q.lock(&id).expect("lock").mine().remove().expect("rm");
        assert!(matches!(q.lock(&id).expect("lock"), Claim::Gone));
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
        let l = q.lock(&id).expect("lock").mine();
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
        let e = q
            .read_meta(&id)
            .expect_err("metadata must be refused")
            .into_error(&id);
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
        assert!(matches!(q.lock(&id).expect("lock"), Claim::Mine(_)));
        if give_away(&q.meta_path(&id)) {
            let e = q.read_meta(&id).expect_err("foreign owner").into_error(&id);
            assert!(e.message.contains("not by you"), "{}", e.message);
        }
    }

    fn mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: mkfifo reads the NUL-terminated path, which outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }

    fn damaged(c: Claim) -> Damaged {
        match c {
            Claim::Damaged(d) => d,
            Claim::Mine(_) => panic!("mine"),
            Claim::Gone => panic!("gone"),
        }
    }

    #[test]
    fn fifos_never_block_and_are_damaged() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        fs::remove_file(q.msg_path(&id)).expect("rm");
        mkfifo(&q.msg_path(&id));
        let d = damaged(q.lock(&id).expect("lock"));
        assert!(
            d.why().contains("is a FIFO, not a regular file"),
            "{}",
            d.why()
        );
        assert!(q.open_message(&id).is_err());
        assert!(q.message_problem(&id).is_some());
        let set = d.set_aside();
        assert!(set.moved.is_ok(), "{set:?}");
        assert_eq!(q.failed_ids(), vec![id.clone()]);
        let failed = q.read_meta_failed(&id);
        assert!(failed.contains("damaged: "), "{failed}");

        let id = enqueue(&q, "y");
        fs::remove_file(q.meta_path(&id)).expect("rm");
        mkfifo(&q.meta_path(&id));
        assert!(matches!(q.read_meta(&id), Err(FileError::Damaged(_))));
        assert!(matches!(q.lock(&id).expect("lock"), Claim::Damaged(_)));
    }

    #[test]
    fn symlinks_and_directories_are_damaged_not_followed() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(&t.path().join("q")).expect("open");
        let id = enqueue(&q, "x");
        let elsewhere = t.path().join("elsewhere");
        fs::write(&elsewhere, "x").expect("write");
        fs::remove_file(q.msg_path(&id)).expect("rm");
        std::os::unix::fs::symlink(&elsewhere, q.msg_path(&id)).expect("ln");
        let d = damaged(q.lock(&id).expect("lock"));
        assert!(d.why().contains("symbolic link"), "{}", d.why());
        fs::remove_file(q.msg_path(&id)).expect("rm");
        fs::create_dir(q.msg_path(&id)).expect("mkdir");
        let d = damaged(q.lock(&id).expect("lock"));
        assert!(d.why().contains("a directory"), "{}", d.why());
        d.set_aside();
        assert!(elsewhere.exists());
    }

    #[test]
    fn oversized_or_foreign_id_metadata_is_damaged() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        let text = fs::read_to_string(q.meta_path(&id)).expect("read");
        let big = format!("{text}# {}\n", "x".repeat(MAX_META_BYTES as usize));
        fs::write(q.meta_path(&id), big).expect("write");
        match q.read_meta(&id) {
            Err(FileError::Damaged(why)) => assert!(why.contains("1 MiB"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Metadata chooses the file names it is rewritten under: a path must never pass.
        let evil = text.replace(&format!("id = \"{id}\""), "id = \"../../x\"");
        fs::write(q.meta_path(&id), evil).expect("write");
        match q.read_meta(&id) {
            Err(FileError::Damaged(why)) => assert!(why.contains("another queue ID"), "{why}"),
            other => panic!("{other:?}"),
        }
        fs::write(q.meta_path(&id), "format = [").expect("write");
        assert!(matches!(q.read_meta(&id), Err(FileError::Damaged(_))));
        fs::write(q.meta_path(&id), b"\xff\xfe").expect("write");
        assert!(matches!(q.read_meta(&id), Err(FileError::Damaged(_))));
    }

    #[test]
    fn size_and_checksum_are_recorded_and_verified() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "Subject: s\n\nbody\n");
        let m = q.read_meta(&id).expect("meta");
        assert_eq!(m.size, 17);
        assert_eq!(
            m.sha256.as_deref(),
            Some(hex(&Sha256::digest(b"Subject: s\n\nbody\n")).as_str())
        );
        assert_eq!(q.lock(&id).expect("lock").mine().verify(), Ok(true));
        fs::write(q.msg_path(&id), "Subject: s\n\nBODY\n").expect("write");
        let why = q
            .lock(&id)
            .expect("lock")
            .mine()
            .verify()
            .expect_err("changed");
        assert!(why.contains("SHA-256"), "{why}");
        fs::write(q.msg_path(&id), "Subject: s\n").expect("write");
        let why = q
            .lock(&id)
            .expect("lock")
            .mine()
            .verify()
            .expect_err("short");
        assert!(why.contains("has 11 bytes, 17 were queued"), "{why}");
        // Metadata of an older postie: size only.
        let mut l = q.lock(&id).expect("lock").mine();
        l.meta.sha256 = None;
        assert!(l.verify().is_err());
        fs::write(q.msg_path(&id), "Subject: s\n\nBODY\n").expect("write");
        assert_eq!(l.verify(), Ok(false));
    }

    #[test]
    fn the_sending_reader_fails_on_a_file_changed_after_the_check() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "Subject: s\n\nbody\n");
        let l = q.lock(&id).expect("lock").mine();
        let mut all = Vec::new();
        l.reader()
            .expect("reader")
            .read_to_end(&mut all)
            .expect("intact");
        assert_eq!(all, b"Subject: s\n\nbody\n");
        // Appended bytes are not part of the message.
        fs::OpenOptions::new()
            .append(true)
            .open(q.msg_path(&id))
            .expect("open")
            .write_all(b"extra")
            .expect("append");
        let mut all = Vec::new();
        l.reader()
            .expect("reader")
            .read_to_end(&mut all)
            .expect("bounded");
        assert_eq!(all, b"Subject: s\n\nbody\n");
        // Truncated, then changed: never a clean end of file.
        fs::OpenOptions::new()
            .write(true)
            .open(q.msg_path(&id))
            .expect("open")
            .set_len(5)
            .expect("truncate");
        let e = l
            .reader()
            .expect("reader")
            .read_to_end(&mut Vec::new())
            .expect_err("short");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("ended after 5 of 17 bytes"), "{e}");
        fs::write(q.msg_path(&id), "Subject: s\n\nBODY\n").expect("write");
        let e = l
            .reader()
            .expect("reader")
            .read_to_end(&mut Vec::new())
            .expect_err("changed");
        assert!(e.to_string().contains("SHA-256"), "{e}");
    }

    #[test]
    fn a_lost_message_file_is_damaged_a_removed_entry_is_gone() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        fs::remove_file(q.msg_path(&id)).expect("rm");
        let d = damaged(q.lock(&id).expect("lock"));
        assert!(d.why().ends_with(".msg is missing"), "{}", d.why());
        assert_eq!(q.message_problem(&id), Some(format!("{id}.msg is missing")));
        // Both files gone: delivered by someone else.
        fs::remove_file(q.meta_path(&id)).expect("rm");
        assert!(matches!(q.lock(&id).expect("lock"), Claim::Gone));
        // Message already in failed/: a move in progress, not a loss.
        let id = enqueue(&q, "y");
        fs::rename(
            q.msg_path(&id),
            t.path().join("failed").join(format!("{id}.msg")),
        )
        .expect("mv");
        assert!(matches!(q.lock(&id).expect("lock"), Claim::Gone));
        assert_eq!(q.message_problem(&id), None);
    }

    #[test]
    fn cleanup_sets_aside_metadata_whose_message_is_lost_and_non_regular_orphans() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let lost = enqueue(&q, "x");
        fs::remove_file(q.msg_path(&lost)).expect("rm");
        let orphan = q.msg_path("0000000000000-2");
        mkfifo(&orphan);
        mkfifo(&t.path().join("tmp").join("stray"));
        let found = q.cleanup();
        assert_eq!(found.len(), 3, "{found:?}");
        let lines: Vec<String> = found.iter().map(Damage::line).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("queued message {lost} is damaged"))),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("left in place")),
            "{lines:?}"
        );
        assert!(q.ids().is_empty());
        assert_eq!(q.failed_ids(), vec![lost]);
        assert!(!orphan.exists());
        assert!(t.path().join("failed").join("0000000000000-2.msg").exists());
    }

    #[test]
    fn a_damaged_entry_can_be_deleted() {
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let id = enqueue(&q, "x");
        fs::remove_file(q.msg_path(&id)).expect("rm");
        mkfifo(&q.msg_path(&id));
        damaged(q.lock(&id).expect("lock")).remove().expect("rm");
        assert!(q.ids().is_empty());
        assert!(fs::symlink_metadata(q.msg_path(&id)).is_err());
    }

    #[test]
    fn an_input_error_while_spooling_has_no_fallback_and_leaves_nothing() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("gone"))
            }
        }
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(t.path()).expect("open");
        let mut r = io::BufReader::new(Broken);
        let mut u = q.spool_or_salvage(b"h", &mut r).expect_err("input error");
        assert!(u.no_fallback);
        assert!(u.taken().is_none());
        assert_eq!(fs::read_dir(t.path().join("tmp")).expect("tmp").count(), 0);
    }

    impl Queue {
        fn read_meta_failed(&self, id: &str) -> String {
            fs::read_to_string(self.dir.join("failed").join(format!("{id}.toml"))).expect("read")
        }
    }
}
