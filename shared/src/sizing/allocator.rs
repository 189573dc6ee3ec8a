//! PyTorch's CUDA caching allocator, as far as vLLM's memory accounting before 0.6.4 sees it.
//!
//! From 0.2.5 to 0.6.3 vLLM measured its non-KV memory as the drop in the device's free memory
//! across the profiling run, after emptying the cache only *before* it (0.3.1
//! `vllm/worker/worker.py:122` `torch.cuda.empty_cache()`, then `:131` `mem_get_info()`). What
//! the drop sees is every segment the allocator reserved from the driver during the run, not
//! the live peak: freed blocks stay cached, and a later request that does not fit any cached
//! free block reserves a new segment. To reproduce it, the run's allocations are replayed in
//! order through this model of the allocator (c10 `CUDACachingAllocator.cpp`, PyTorch 2.x,
//! with its default settings):
//!
//! - a request is rounded up to a multiple of 512 B (`kMinBlockSize`);
//! - requests up to 1 MiB (`kSmallSize`) are served from 2 MiB segments (`kSmallBuffer`), larger
//!   ones from segments of 20 MiB (`kLargeBuffer`) below 10 MiB (`kMinLargeAlloc`), else of the
//!   size rounded up to 2 MiB (`kRoundLarge`);
//! - a request takes the smallest cached free block of its pool that is large enough (best
//!   fit), split when the rest is at least 512 B (small pool) or more than 1 MiB (large pool);
//! - a freed block merges with its free neighbours in its segment; nothing returns to the
//!   driver until `empty_cache()`.

/// Bytes every request is rounded up to a multiple of (`kMinBlockSize`).
const MIN_BLOCK: u64 = 512;
/// Largest request served from the small pool (`kSmallSize`).
const SMALL_SIZE: u64 = 1 << 20;
/// Segment size of the small pool (`kSmallBuffer`).
const SMALL_BUFFER: u64 = 2 << 20;
/// Segment size for large requests below [`MIN_LARGE_ALLOC`] (`kLargeBuffer`).
const LARGE_BUFFER: u64 = 20 << 20;
/// Requests from this size get a segment of their own size (`kMinLargeAlloc`).
const MIN_LARGE_ALLOC: u64 = 10 << 20;
/// Rounding of those segments (`kRoundLarge`).
const ROUND_LARGE: u64 = 2 << 20;

/// A handle on a live allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation(u64);

#[derive(Debug, Clone)]
struct Block {
    size: u64,
    /// The allocation it serves; `None` when free.
    owner: Option<u64>,
}

#[derive(Debug, Clone)]
struct Segment {
    size: u64,
    small: bool,
    /// Contiguous, in address order.
    blocks: Vec<Block>,
}

/// The caching allocator's state: segments reserved from the driver, split into blocks.
///
/// ```
/// use jauge::sizing::allocator::CachingAllocator;
/// let mut a = CachingAllocator::default();
/// let big = a.alloc(300 << 20);
/// a.free(big);
/// // Freed memory stays reserved, and serves the next request that fits.
/// let smaller = a.alloc(200 << 20);
/// assert_eq!(a.reserved(), 300 << 20);
/// // A request that fits no cached block reserves a new segment.
/// let other = a.alloc(200 << 20);
/// assert_eq!(a.reserved(), 500 << 20);
/// # let _ = (smaller, other);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CachingAllocator {
    segments: Vec<Segment>,
    next: u64,
    live: u64,
    peak_live: u64,
}

impl CachingAllocator {
    /// Serves a request of `bytes`.
    pub fn alloc(&mut self, bytes: u64) -> Allocation {
        let size = bytes.max(1).div_ceil(MIN_BLOCK) * MIN_BLOCK;
        let small = size <= SMALL_SIZE;
        let id = self.next;
        self.next += 1;
        let (segment, index) = match self.best_fit(size, small) {
            Some(found) => found,
            None => {
                self.segments.push(Segment {
                    size: segment_size(size),
                    small,
                    blocks: vec![Block {
                        size: segment_size(size),
                        owner: None,
                    }],
                });
                (self.segments.len() - 1, 0)
            }
        };
        let blocks = &mut self.segments[segment].blocks;
        let rest = blocks[index].size - size;
        let split = if small {
            rest >= MIN_BLOCK
        } else {
            rest > SMALL_SIZE
        };
        if split {
            blocks[index].size = size;
            blocks.insert(
                index + 1,
                Block {
                    size: rest,
                    owner: None,
                },
            );
        }
        blocks[index].owner = Some(id);
        self.live += blocks[index].size;
        self.peak_live = self.peak_live.max(self.live);
        Allocation(id)
    }

    /// Returns an allocation to the cache (not to the driver).
    pub fn free(&mut self, allocation: Allocation) {
        for segment in &mut self.segments {
            let Some(i) = segment
                .blocks
                .iter()
                .position(|b| b.owner == Some(allocation.0))
            else {
                continue;
            };
            self.live -= segment.blocks[i].size;
            segment.blocks[i].owner = None;
            // Merge with the free neighbours, next first so `i` stays valid.
            if i + 1 < segment.blocks.len() && segment.blocks[i + 1].owner.is_none() {
                let next = segment.blocks.remove(i + 1);
                segment.blocks[i].size += next.size;
            }
            if i > 0 && segment.blocks[i - 1].owner.is_none() {
                let this = segment.blocks.remove(i);
                segment.blocks[i - 1].size += this.size;
            }
            return;
        }
    }

    /// Bytes reserved from the driver: what `mem_get_info` sees as used.
    pub fn reserved(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    /// The most bytes live at once (`torch.cuda.max_memory_allocated()` of these requests).
    pub fn peak_live(&self) -> u64 {
        self.peak_live
    }

    /// The smallest free block of the pool that holds `size`: (segment, block).
    fn best_fit(&self, size: u64, small: bool) -> Option<(usize, usize)> {
        self.segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.small == small)
            .flat_map(|(si, s)| {
                s.blocks
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.owner.is_none() && b.size >= size)
                    .map(move |(bi, b)| (b.size, si, bi))
            })
            .min()
            .map(|(_, si, bi)| (si, bi))
    }
}

/// The segment reserved for a request that no cached block holds.
fn segment_size(size: u64) -> u64 {
    if size <= SMALL_SIZE {
        SMALL_BUFFER
    } else if size < MIN_LARGE_ALLOC {
        LARGE_BUFFER
    } else {
        size.div_ceil(ROUND_LARGE) * ROUND_LARGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_requests_share_two_mebibyte_segments() {
        let mut a = CachingAllocator::default();
        let x: Vec<_> = (0..4).map(|_| a.alloc(100_000)).collect();
        assert_eq!(a.reserved(), SMALL_BUFFER);
        assert_eq!(a.peak_live(), 4 * 100_352);
        for h in x {
            a.free(h);
        }
        assert_eq!(a.reserved(), SMALL_BUFFER);
    }

    #[test]
    fn medium_requests_take_a_twenty_mebibyte_segment_and_split_it() {
        let mut a = CachingAllocator::default();
        a.alloc(4 << 20);
        a.alloc(4 << 20);
        assert_eq!(a.reserved(), LARGE_BUFFER);
        // 12 MiB left in the segment: a 13 MiB request needs its own.
        a.alloc(13 << 20);
        assert_eq!(a.reserved(), LARGE_BUFFER + (14 << 20));
    }

    #[test]
    fn freed_neighbours_merge_into_one_block() {
        let mut a = CachingAllocator::default();
        let x = a.alloc(100 << 20);
        let y = a.alloc(100 << 20);
        a.free(x);
        a.free(y);
        // Two segments of 100 MiB: they do not merge across segments.
        let z = a.alloc(150 << 20);
        assert_eq!(a.reserved(), 350 << 20);
        a.free(z);
        // Within a segment, freed halves merge back.
        let mut b = CachingAllocator::default();
        let big = b.alloc(200 << 20);
        b.free(big);
        let p = b.alloc(50 << 20);
        let q = b.alloc(50 << 20);
        b.free(p);
        b.free(q);
        b.alloc(200 << 20);
        assert_eq!(b.reserved(), 200 << 20);
    }
}
