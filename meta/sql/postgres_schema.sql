-- S3LayerFS metadata schema for PostgreSQL, schema version 3 (kSchemaVersion in meta/types.hpp).
-- The same tables, columns and indexes as meta/sql/sqlite_schema.sql, in PostgreSQL types.
-- Embedded into the binary at build time (meta/CMakeLists.txt) and run by format(),
-- inside format's transaction (PostgreSQL DDL is transactional: format is all or nothing).
-- Conventions: ids, sizes, offsets, uids and times are BIGINT (all < 2^63; times are
-- nanoseconds since the epoch); flags are SMALLINT 0/1; names and symlink targets are
-- BYTEA because POSIX names are bytes, not text (and BYTEA order is memcmp order, like
-- SQLite's BLOB). Tables updated in place on every operation (inodes, counters, chunks)
-- leave room on each page (fillfactor) so updates stay on the page (HOT, no index writes).

CREATE TABLE schema_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),   -- single row
  version BIGINT NOT NULL
);

-- VolumeSettings: format_version, name, uuid, block_size, chunk_size, storage_url, created.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- next_inode, next_slice, next_session: id allocators (handed out in batches);
-- used_bytes, inodes: what statfs reports, kept exact by every transaction.
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value BIGINT NOT NULL
) WITH (fillfactor = 50);

CREATE TABLE inodes (
  ino    BIGINT PRIMARY KEY,    -- 1 is the root
  mode   BIGINT NOT NULL,       -- type bits | permission bits
  uid    BIGINT NOT NULL,
  gid    BIGINT NOT NULL,
  nlink  BIGINT NOT NULL,
  size   BIGINT NOT NULL,
  rdev   BIGINT NOT NULL,
  atime  BIGINT NOT NULL,
  mtime  BIGINT NOT NULL,
  ctime  BIGINT NOT NULL,
  parent BIGINT NOT NULL        -- directories: the containing directory (root: 1); others: 0
) WITH (fillfactor = 80);

-- Directory entries, separate from inodes so that hard links work.
CREATE TABLE entries (
  parent BIGINT NOT NULL,
  name   BYTEA NOT NULL,
  ino    BIGINT NOT NULL,
  PRIMARY KEY (parent, name)
);
CREATE INDEX entries_by_ino ON entries (ino);   -- path_of, link counts

CREATE TABLE symlinks (
  ino    BIGINT PRIMARY KEY,
  target BYTEA NOT NULL
);

-- Number of committed slices per chunk (drives compaction later).
CREATE TABLE chunks (
  ino    BIGINT NOT NULL,
  idx    BIGINT NOT NULL,
  slices BIGINT NOT NULL,
  PRIMARY KEY (ino, idx)
) WITH (fillfactor = 80);
-- v3: the compactor looks for the most fragmented chunks.
CREATE INDEX chunks_by_slices ON chunks (slices);

CREATE TABLE slices (
  id      BIGINT PRIMARY KEY,
  ino     BIGINT NOT NULL,
  chunk   BIGINT NOT NULL,
  pos     BIGINT NOT NULL,      -- offset inside the chunk
  len     BIGINT NOT NULL,
  zero    SMALLINT NOT NULL,    -- 1: reads as zeros, has no blocks (truncate)
  status  SMALLINT NOT NULL,    -- 0 pending (blocks uploading), 1 committed
  session BIGINT NOT NULL,      -- owner while pending; 0 for zero slices
  created BIGINT NOT NULL,
  -- ord: visibility order in the chunk, assigned at commit: higher wins.
  -- off (v2): where the slice starts inside its blocks' data (rows sharing blocks).
  ord     BIGINT NOT NULL DEFAULT 0,
  off     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX slices_by_chunk ON slices (ino, chunk, ord);
CREATE INDEX slices_pending ON slices (session) WHERE status = 0;

-- An identity column is a sequence: a block id is never reused, so a dead
-- block queued for deletion can never be confused with a new block.
CREATE TABLE blocks (
  id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slice_id BIGINT NOT NULL,     -- (slice_id, idx, size) names the object in the store
  idx      BIGINT NOT NULL,
  size     BIGINT NOT NULL,
  checksum TEXT NOT NULL,       -- lowercase hex SHA-256 of the object
  refs     BIGINT NOT NULL      -- number of slice_blocks rows pointing here
);

CREATE TABLE slice_blocks (
  slice_id BIGINT NOT NULL,
  seq      BIGINT NOT NULL,     -- block order inside the slice
  block_id BIGINT NOT NULL,
  PRIMARY KEY (slice_id, seq)
);

CREATE TABLE sessions (
  id         BIGINT PRIMARY KEY,
  host       TEXT NOT NULL,
  pid        BIGINT NOT NULL,
  mountpoint TEXT NOT NULL,
  version    TEXT NOT NULL,
  started    BIGINT NOT NULL,
  -- expiry (v3): stale when heartbeat < now - expiry (ns).
  heartbeat  BIGINT NOT NULL,
  expiry     BIGINT NOT NULL DEFAULT 60000000000
);

-- v3: background jobs that one mount at a time may run (the session cleaner):
-- held by a session until `until` (ns); taken over once expired.
CREATE TABLE leases (
  name   TEXT PRIMARY KEY,
  holder BIGINT NOT NULL,
  until  BIGINT NOT NULL
);

-- Inodes with nlink 0 still open in a session; purged after the last close.
CREATE TABLE orphans (
  ino     BIGINT PRIMARY KEY,
  session BIGINT NOT NULL,
  since   BIGINT NOT NULL
);
CREATE INDEX orphans_by_session ON orphans (session);

-- Blocks without references; the deleter removes the object, then the row.
CREATE TABLE dead_blocks (
  block_id BIGINT PRIMARY KEY,
  slice_id BIGINT NOT NULL,
  idx      BIGINT NOT NULL,
  size     BIGINT NOT NULL,
  since    BIGINT NOT NULL
);

-- For later issues (extended attributes, POSIX/BSD locks); empty for now.
CREATE TABLE xattrs (
  ino   BIGINT NOT NULL,
  name  BYTEA NOT NULL,
  value BYTEA NOT NULL,
  PRIMARY KEY (ino, name)
);

CREATE TABLE locks (
  ino     BIGINT NOT NULL,
  session BIGINT NOT NULL,
  owner   BIGINT NOT NULL,
  kind    BIGINT NOT NULL,      -- F_RDLCK / F_WRLCK
  lo      BIGINT NOT NULL,      -- byte range [lo, hi)
  hi      BIGINT NOT NULL,
  PRIMARY KEY (ino, session, owner, lo)
);
