#include "meta/slice_map.hpp"

#include <algorithm>

namespace s3l::meta {

std::vector<Segment> resolve_slices(const std::vector<Slice>& slices, uint64_t chunk_len) {
  std::vector<Segment> segs{Segment{0, chunk_len, nullptr, 0}};
  std::vector<Segment> next;
  for (const Slice& s : slices) {
    uint64_t s_begin = std::min(s.pos, chunk_len);
    uint64_t s_end = std::min(s.pos + s.len, chunk_len);
    if (s_begin >= s_end) continue;
    next.clear();
    bool placed = false;
    // Paint [s_begin, s_end) over the current segments: keep what lies outside,
    // cut what straddles an edge, replace what is inside.
    for (const Segment& g : segs) {
      uint64_t g_end = g.pos + g.len;
      if (g_end <= s_begin || g.pos >= s_end) {
        if (!placed && g.pos >= s_end) {
          next.push_back(Segment{s_begin, s_end - s_begin, s.zero ? nullptr : &s, s.off + s_begin - s.pos});
          placed = true;
        }
        next.push_back(g);
        continue;
      }
      if (g.pos < s_begin) next.push_back(Segment{g.pos, s_begin - g.pos, g.slice, g.slice_off});
      if (!placed) {
        next.push_back(Segment{s_begin, s_end - s_begin, s.zero ? nullptr : &s, s.off + s_begin - s.pos});
        placed = true;
      }
      if (g_end > s_end) {
        uint64_t cut = s_end - g.pos;
        next.push_back(Segment{s_end, g_end - s_end, g.slice, g.slice ? g.slice_off + cut : 0});
      }
    }
    if (!placed) next.push_back(Segment{s_begin, s_end - s_begin, s.zero ? nullptr : &s, s.off + s_begin - s.pos});
    segs.swap(next);
  }
  // Merge neighbouring holes so callers see one zero run.
  std::vector<Segment> out;
  for (const Segment& g : segs) {
    if (!out.empty() && !g.slice && !out.back().slice) {
      out.back().len += g.len;
    } else {
      out.push_back(g);
    }
  }
  return out;
}

std::vector<BlockRange> slice_range_to_blocks(uint64_t slice_off, uint64_t len,
                                              uint64_t block_size) {
  std::vector<BlockRange> out;
  while (len > 0) {
    uint64_t idx = slice_off / block_size;
    uint64_t off = slice_off % block_size;
    uint64_t n = std::min(len, block_size - off);
    out.push_back(BlockRange{static_cast<uint32_t>(idx), off, n});
    slice_off += n;
    len -= n;
  }
  return out;
}

std::vector<uint32_t> split_into_blocks(uint64_t len, uint64_t block_size) {
  std::vector<uint32_t> out;
  for (uint64_t off = 0; off < len; off += block_size)
    out.push_back(static_cast<uint32_t>(std::min(block_size, len - off)));
  return out;
}

}  // namespace s3l::meta
