-- S3LayerFS metadata schema for SQLite, schema version 3 (kSchemaVersion in meta/types.hpp).
-- Embedded into the binary at build time (meta/CMakeLists.txt) and run by format().
-- Conventions: ids, sizes and offsets are int64 (all < 2^63); times are int64
-- nanoseconds since the epoch; booleans are 0/1; names and symlink targets are
-- BLOBs because POSIX names are bytes, not text (and BLOB order is memcmp order).

CREATE TABLE schema_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),   -- single row
  version INTEGER NOT NULL
);

-- VolumeSettings: format_version, name, uuid, block_size, chunk_size, storage_url, created.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- next_inode, next_slice, next_session: id allocators (handed out in batches);
-- used_bytes, inodes: what statfs reports, kept exact by every transaction.
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE inodes (
  ino    INTEGER PRIMARY KEY,   -- 1 is the root
  mode   INTEGER NOT NULL,      -- type bits | permission bits
  uid    INTEGER NOT NULL,
  gid    INTEGER NOT NULL,
  nlink  INTEGER NOT NULL,
  size   INTEGER NOT NULL,
  rdev   INTEGER NOT NULL,
  atime  INTEGER NOT NULL,
  mtime  INTEGER NOT NULL,
  ctime  INTEGER NOT NULL,
  parent INTEGER NOT NULL       -- directories: the containing directory (root: 1); others: 0
);

-- Directory entries, separate from inodes so that hard links work.
CREATE TABLE entries (
  parent INTEGER NOT NULL,
  name   BLOB NOT NULL,
  ino    INTEGER NOT NULL,
  PRIMARY KEY (parent, name)
) WITHOUT ROWID;
CREATE INDEX entries_by_ino ON entries (ino);   -- path_of, link counts

CREATE TABLE symlinks (
  ino    INTEGER PRIMARY KEY,
  target BLOB NOT NULL
);

-- Number of committed slices per chunk (drives compaction later).
CREATE TABLE chunks (
  ino    INTEGER NOT NULL,
  idx    INTEGER NOT NULL,
  slices INTEGER NOT NULL,
  PRIMARY KEY (ino, idx)
) WITHOUT ROWID;
-- v3: the compactor looks for the most fragmented chunks.
CREATE INDEX chunks_by_slices ON chunks (slices);

CREATE TABLE slices (
  id      INTEGER PRIMARY KEY,
  ino     INTEGER NOT NULL,
  chunk   INTEGER NOT NULL,
  pos     INTEGER NOT NULL,     -- offset inside the chunk
  len     INTEGER NOT NULL,
  zero    INTEGER NOT NULL,     -- 1: reads as zeros, has no blocks (truncate)
  status  INTEGER NOT NULL,     -- 0 pending (blocks uploading), 1 committed
  session INTEGER NOT NULL,     -- owner while pending; 0 for zero slices
  created INTEGER NOT NULL,
  -- ord: visibility order in the chunk, assigned at commit: higher wins.
  -- off (v2): where the slice starts inside its blocks' data (rows sharing blocks).
  ord     INTEGER NOT NULL DEFAULT 0,
  off     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX slices_by_chunk ON slices (ino, chunk, ord);
CREATE INDEX slices_pending ON slices (session) WHERE status = 0;

-- AUTOINCREMENT: a block id is never reused, so a dead block queued for deletion
-- can never be confused with a new block.
CREATE TABLE blocks (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  slice_id INTEGER NOT NULL,    -- (slice_id, idx, size) names the object in the store
  idx      INTEGER NOT NULL,
  size     INTEGER NOT NULL,
  checksum TEXT NOT NULL,       -- lowercase hex SHA-256 of the object
  refs     INTEGER NOT NULL     -- number of slice_blocks rows pointing here
);

CREATE TABLE slice_blocks (
  slice_id INTEGER NOT NULL,
  seq      INTEGER NOT NULL,    -- block order inside the slice
  block_id INTEGER NOT NULL,
  PRIMARY KEY (slice_id, seq)
) WITHOUT ROWID;

CREATE TABLE sessions (
  id         INTEGER PRIMARY KEY,
  host       TEXT NOT NULL,
  pid        INTEGER NOT NULL,
  mountpoint TEXT NOT NULL,
  version    TEXT NOT NULL,
  started    INTEGER NOT NULL,
  -- expiry (v3): stale when heartbeat < now - expiry (ns).
  heartbeat  INTEGER NOT NULL,
  expiry     INTEGER NOT NULL DEFAULT 60000000000
);

-- v3: background jobs that one mount at a time may run (the session cleaner):
-- held by a session until `until` (ns); taken over once expired.
CREATE TABLE leases (
  name   TEXT PRIMARY KEY,
  holder INTEGER NOT NULL,
  until  INTEGER NOT NULL
);

-- Inodes with nlink 0 still open in a session; purged after the last close.
CREATE TABLE orphans (
  ino     INTEGER PRIMARY KEY,
  session INTEGER NOT NULL,
  since   INTEGER NOT NULL
);
CREATE INDEX orphans_by_session ON orphans (session);

-- Blocks without references; the deleter removes the object, then the row.
CREATE TABLE dead_blocks (
  block_id INTEGER PRIMARY KEY,
  slice_id INTEGER NOT NULL,
  idx      INTEGER NOT NULL,
  size     INTEGER NOT NULL,
  since    INTEGER NOT NULL
);

-- For later issues (extended attributes, POSIX/BSD locks); empty for now.
CREATE TABLE xattrs (
  ino   INTEGER NOT NULL,
  name  BLOB NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (ino, name)
) WITHOUT ROWID;

CREATE TABLE locks (
  ino     INTEGER NOT NULL,
  session INTEGER NOT NULL,
  owner   INTEGER NOT NULL,
  kind    INTEGER NOT NULL,     -- F_RDLCK / F_WRLCK
  lo      INTEGER NOT NULL,     -- byte range [lo, hi)
  hi      INTEGER NOT NULL,
  PRIMARY KEY (ino, session, owner, lo)
) WITHOUT ROWID;
