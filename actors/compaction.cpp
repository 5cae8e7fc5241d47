#include "actors/compaction.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "meta/slice_map.hpp"
#include "store/block_key.hpp"
#include "util/clock.hpp"
#include "util/sha256.hpp"

namespace s3l {

namespace {

// [off, off+len) of a committed block, verified against its checksum.
Result<std::string> read_block(store::ObjectStore& st, store::BlockCache* cache, const std::string& key,
                               const meta::Block& b, uint64_t off, uint64_t len) {
  if (cache) return cache->read(key, b.size, off, len, st, b.checksum);
  auto whole = st.get(key);
  if (!whole.ok()) return whole.status;
  if (whole->size() != b.size || sha256_hex(*whole) != b.checksum)
    return Status::Error(EIO, "block " + key + " does not match its recorded size/checksum");
  return whole->substr(off, len);
}

}  // namespace

Result<CompactResult> compact_chunk(meta::Meta& m, store::ObjectStore& st, store::BlockCache* cache,
                                    const meta::VolumeSettings& vol, uint64_t session, uint64_t ino,
                                    uint64_t chunk) {
  CompactResult res;
  // The slices first, then the size. A write that grows the file after the
  // list was read adds a slice, so the swap is refused; a truncate down that
  // matters changes the list too. Read the other way round, a slice committed
  // in between would be clipped to the old size and its tail lost (the swap
  // checks that as well).
  auto slices = m.chunk_slices(ino, chunk);
  if (!slices.ok()) return slices.status;
  auto attr = m.getattr(ino);
  if (!attr.ok()) return attr.err() == ENOENT ? Result<CompactResult>(res) : Result<CompactResult>(attr.status);
  res.slices_before = slices->size();
  if (slices->size() < 2) return res;
  std::vector<uint64_t> ids;
  uint64_t begin = vol.chunk_size, end = 0;
  for (const auto& s : *slices) {
    ids.push_back(s.id);
    begin = std::min(begin, s.pos);
    end = std::max(end, std::min(vol.chunk_size, s.pos + s.len));
  }
  const uint64_t chunk_start = chunk * vol.chunk_size;
  end = attr->size > chunk_start ? std::min(end, attr->size - chunk_start) : 0;
  if (begin >= end) return res;   // nothing visible left below the end of the file

  // The bytes a reader sees in [begin, end): holes and zero slices stay zeros.
  std::string data(end - begin, '\0');
  bool any_data = false;
  for (const meta::Segment& g : meta::resolve_slices(*slices, vol.chunk_size)) {
    if (!g.slice || g.pos + g.len <= begin || g.pos >= end) continue;
    any_data = true;
    // Only the part inside [begin, end): `end` may be below a slice's end
    // (the file was truncated; its zero slice hides the rest), and nothing
    // may be copied past the end of `data`.
    const uint64_t from = std::max(g.pos, begin), to = std::min(g.pos + g.len, end);
    uint64_t dst = from - begin;
    for (const meta::BlockRange& br :
         meta::slice_range_to_blocks(g.slice_off + (from - g.pos), to - from, vol.block_size)) {
      if (br.index >= g.slice->blocks.size())
        return Status::Error(EIO, "slice " + std::to_string(g.slice->id) + " has no block " + std::to_string(br.index));
      const meta::Block& b = g.slice->blocks[br.index];
      std::string key = store::block_key(vol.name, b.slice_id, b.index, b.size);
      auto bytes = read_block(st, cache, key, b, br.off, br.len);
      if (!bytes.ok()) return Status::Error(bytes.err(), "compacting inode " + std::to_string(ino) + " chunk " +
                                                             std::to_string(chunk) + ": " + bytes.msg());
      if (bytes->size() != br.len)
        return Status::Error(EIO, "block " + key + " returned " + std::to_string(bytes->size()) + " bytes");
      if (dst + br.len > data.size())   // cannot happen after the clipping above; never write past data
        return Status::Error(EIO, "compaction of inode " + std::to_string(ino) + " chunk " + std::to_string(chunk) +
                                      ": segment beyond the merged range");
      std::memcpy(&data[dst], bytes->data(), br.len);
      dst += br.len;
    }
  }

  auto id = m.begin_slice(ino, chunk, session, any_data ? data.size() : 0);
  if (!id.ok()) return id.status;
  meta::Slice merged;
  merged.id = *id;
  merged.ino = ino;
  merged.chunk = chunk;
  merged.pos = begin;
  merged.len = data.size();
  merged.zero = !any_data;
  std::vector<std::string> stored;
  auto drop_upload = [&](const Status& why) {
    Status r = stored.empty() ? Status::Ok() : st.remove_many(stored);
    Status a = m.abort_slice(merged.id);
    if (!r.ok() || !a.ok())
      spdlog::warn("compaction: cleaning up slice {} after '{}': {} {}", merged.id, why.msg, r.msg, a.msg);
  };
  if (any_data) {
    uint32_t idx = 0;
    for (uint64_t off = 0; off < data.size(); off += vol.block_size, ++idx) {
      uint64_t n = std::min<uint64_t>(vol.block_size, data.size() - off);
      meta::Block b{0, merged.id, idx, static_cast<uint32_t>(n), sha256_hex(data.data() + off, n)};
      std::string key = store::block_key(vol.name, b.slice_id, b.index, b.size);
      Status s = st.put_with_sha256(key, data.data() + off, n, b.checksum);
      if (!s.ok()) {
        drop_upload(s);
        return s;
      }
      stored.push_back(key);
      merged.blocks.push_back(std::move(b));
    }
  }
  auto done = m.commit_compaction(merged, ids, now_ns());
  if (!done.ok()) {
    drop_upload(done.status);
    if (done.err() == EAGAIN) {
      res.outcome = CompactOutcome::changed;
      return res;
    }
    return done.status;
  }
  res.outcome = CompactOutcome::compacted;
  res.bytes = data.size();
  return res;
}

}  // namespace s3l
