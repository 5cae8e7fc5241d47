// SqlMeta::upgrade_schema: the history of the SQL schema, one step per version.
// Each step is engine-neutral SQL (see meta/sql_conn.hpp) and all steps run in
// one transaction, so an interrupted upgrade leaves the old version intact.
//
//   1  first release: inodes, entries, chunks, slices, blocks, slice_blocks, ...
//   2  slices.off: a slice may start inside its blocks' data, so that an append
//      landing across a chunk end is two rows sharing one upload.
//   3  sessions.expiry (each session says when it counts as dead), leases
//      (one session cleaner at a time across all mounts), and an index on
//      chunks.slices for the compactor.
#include <cerrno>
#include <vector>

#include "meta/sql_meta.hpp"

namespace s3l::meta {
namespace {

struct Step {
  uint32_t to;
  std::vector<const char*> sql;
};

const Step kSteps[] = {
    {2, {"ALTER TABLE slices ADD COLUMN off BIGINT NOT NULL DEFAULT 0"}},
    {3, {"ALTER TABLE sessions ADD COLUMN expiry BIGINT NOT NULL DEFAULT 60000000000",
         "CREATE TABLE leases (name TEXT PRIMARY KEY, holder BIGINT NOT NULL, until BIGINT NOT NULL)",
         "CREATE INDEX chunks_by_slices ON chunks (slices)"}},
};

}  // namespace

Result<uint32_t> SqlMeta::upgrade_schema() {
  static_assert(sizeof(kSteps) / sizeof(kSteps[0]) == kSchemaVersion - 1, "one step per schema version");
  settings_.reset();
  return run("upgrade schema", Tx::kWrite, [&]() -> Result<uint32_t> {
    const std::string no_volume =
        conn_->describe() + " holds no formatted S3LayerFS volume (run format first)";
    if (!conn_->has_table("schema_version")) return Status::Error(ENODATA, no_volume);
    int64_t found = 0;
    {
      Query q(*conn_, "SELECT version FROM schema_version WHERE id = 1");
      if (!q.next()) return Status::Error(ENODATA, no_volume);
      found = q.i64(0);
    }
    if (found > kSchemaVersion)
      return Status::Error(EPROTO, conn_->describe() + " has metadata schema version " + std::to_string(found) +
                                       ", newer than this binary's " + std::to_string(kSchemaVersion) +
                                       "; it cannot be downgraded");
    if (found < 1) return Status::Error(EIO, conn_->describe() + ": schema version " + std::to_string(found) +
                                                 " is not valid (damaged metadata)");
    if (found == kSchemaVersion) return static_cast<uint32_t>(found);
    conn_->clear_statements();   // DDL follows: no prepared statement may survive it
    for (const Step& s : kSteps)
      if (s.to > found)
        for (const char* sql : s.sql) conn_->exec(sql);
    Query(*conn_, "UPDATE schema_version SET version = $1 WHERE id = 1").bind(1, kSchemaVersion).run();
    return static_cast<uint32_t>(found);
  });
}

}  // namespace s3l::meta
