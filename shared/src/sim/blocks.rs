//! Prefix caching by block hashes, as vLLM's automatic prefix caching does it: a prompt's KV
//! cache is cut into blocks of `block_size` tokens, each full block is named by a hash of its
//! tokens chained with the hash of the block before it (so equal hashes mean equal prefixes),
//! and a block computed once is reused by every later prompt that starts with the same
//! tokens, until memory is wanted and it is evicted, least recently freed first.
//!
//! Whoever sends a request says what its context is made of: the simulator from a person's
//! [`Content`] (the system prompt, a conversation, a document), `jauge serve-sim` from the
//! token ids it reads, a trace from its block ids. The scheduler sees only the hashes.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::rng::finalise;

/// Mixes `value` into the chain `previous`: the hash of one block given the hash of the
/// blocks before it. SplitMix64's finaliser over both, so nearby inputs spread apart.
///
/// ```
/// use jauge::sim::chain;
/// assert_eq!(chain(0, 5), chain(0, 5));
/// assert_ne!(chain(0, 5), chain(1, 5)); // same block after a different prefix
/// assert_ne!(chain(0, 5), chain(0, 6));
/// ```
pub fn chain(previous: u64, value: u64) -> u64 {
    // Finalising `value` on its own first keeps small ids (a trace's 0, 1, 2, …) from
    // cancelling out bits of `previous`.
    finalise(previous.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ finalise(value))
}

/// The hashes of the full blocks of a token sequence, each chained with those before it.
///
/// ```
/// let a = jauge::sim::token_block_hashes(&[1, 2, 3, 4, 5], 2);
/// let b = jauge::sim::token_block_hashes(&[1, 2, 3, 9], 2);
/// assert_eq!(a.len(), 2); // the fifth token does not fill a block
/// assert_eq!(a[0], b[0]);
/// assert_ne!(a[1], b[1]);
/// ```
pub fn token_block_hashes(tokens: &[u32], block_size: usize) -> Vec<u64> {
    let mut previous = 0;
    tokens
        .chunks_exact(block_size.max(1))
        .map(|block| {
            let content = block.iter().fold(0u64, |h, &t| chain(h, u64::from(t) + 1));
            previous = chain(previous, content);
            previous
        })
        .collect()
}

/// `hashes` (a context's shared blocks) extended to every full block of its `tokens`, the rest
/// named after `salt`, a value no other request uses: vLLM caches every full block, shared or
/// not, and the blocks nobody will ask for again still take their place in the eviction order.
///
/// ```
/// let shared = jauge::sim::token_block_hashes(&[1; 32], 16);
/// let a = jauge::sim::with_own_blocks(shared.clone(), 70, 16, 1);
/// let b = jauge::sim::with_own_blocks(shared.clone(), 70, 16, 2);
/// assert_eq!((a.len(), a[..2] == b[..2]), (4, true));
/// assert_ne!(a[2], b[2]);
/// ```
pub fn with_own_blocks(mut hashes: Vec<u64>, tokens: u64, block_size: u64, salt: u64) -> Vec<u64> {
    let blocks = tokens / block_size.max(1);
    let mut previous = hashes.last().copied().unwrap_or(0);
    while (hashes.len() as u64) < blocks {
        previous = chain(previous, chain(salt, hashes.len() as u64) ^ OWN_BLOCKS);
        hashes.push(previous);
    }
    hashes
}

/// Mixed into a request's own blocks, apart from any content's.
const OWN_BLOCKS: u64 = 0x6a09_e667_f3bc_c908;

/// A run of tokens of some content from its start: the first `tokens` of what `key` names (a
/// system prompt, one conversation, one document).
///
/// ```
/// let s = jauge::sim::Segment { key: 3, tokens: 500 };
/// assert_eq!(s.tokens, 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// What the content is.
    pub key: u64,
    /// How many of its tokens, from its start.
    pub tokens: u64,
}

/// What the start of a request's context is made of, segment after segment; whatever follows
/// is its own and shared with nothing. Two contexts whose segments agree up to a block's end
/// have that block in common.
///
/// ```
/// use jauge::sim::{Content, Segment};
/// let system = Segment { key: 1, tokens: 40 };
/// let alice = Content::of(&[system, Segment { key: 7, tokens: 100 }]);
/// let bob = Content::of(&[system, Segment { key: 8, tokens: 100 }]);
/// let (a, b) = (alice.block_hashes(16), bob.block_hashes(16));
/// assert_eq!(a.len(), 140 / 16);
/// // The system prompt's two full blocks are shared; the block it ends in is not.
/// assert_eq!(a[..2], b[..2]);
/// assert_ne!(a[2], b[2]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    segments: Vec<Segment>,
}

impl Content {
    /// Content made of these segments, in order (empty ones are dropped).
    ///
    /// ```
    /// assert!(jauge::sim::Content::of(&[]).is_empty());
    /// ```
    pub fn of(segments: &[Segment]) -> Content {
        Content {
            segments: segments.iter().copied().filter(|s| s.tokens > 0).collect(),
        }
    }

    /// Nothing shared (a fresh prompt, or a server without prefix caching).
    ///
    /// ```
    /// assert_eq!(jauge::sim::Content::of(&[]).tokens(), 0);
    /// ```
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Tokens it covers.
    ///
    /// ```
    /// use jauge::sim::{Content, Segment};
    /// let c = Content::of(&[Segment { key: 1, tokens: 40 }, Segment { key: 2, tokens: 2 }]);
    /// assert_eq!(c.tokens(), 42);
    /// ```
    pub fn tokens(&self) -> u64 {
        self.segments.iter().map(|s| s.tokens).sum()
    }

    /// The segments.
    ///
    /// ```
    /// use jauge::sim::{Content, Segment};
    /// let s = Segment { key: 1, tokens: 40 };
    /// assert_eq!(Content::of(&[s]).segments(), [s]);
    /// ```
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The hashes of its full blocks of `block_size` tokens. A block's hash covers, chained
    /// with the blocks before it, each piece of content in it: which key, from which offset,
    /// how many tokens.
    ///
    /// ```
    /// use jauge::sim::{Content, Segment};
    /// let short = Content::of(&[Segment { key: 9, tokens: 64 }]);
    /// let long = Content::of(&[Segment { key: 9, tokens: 100 }]);
    /// // A conversation's next turn starts with the blocks of its last one.
    /// assert_eq!(long.block_hashes(16)[..4], short.block_hashes(16)[..]);
    /// ```
    pub fn block_hashes(&self, block_size: u64) -> Vec<u64> {
        let block_size = block_size.max(1);
        let blocks = self.tokens() / block_size;
        let mut hashes = Vec::with_capacity(blocks as usize);
        let (mut segment, mut offset) = (0usize, 0u64);
        let mut previous = 0;
        for _ in 0..blocks {
            let mut left = block_size;
            let mut content = 0u64;
            while left > 0 {
                let s = self.segments[segment];
                let take = (s.tokens - offset).min(left);
                content = chain(chain(chain(content, s.key), offset), take);
                left -= take;
                offset += take;
                if offset == s.tokens {
                    segment += 1;
                    offset = 0;
                }
            }
            previous = chain(previous, content);
            hashes.push(previous);
        }
        hashes
    }
}

/// The hasher of a map whose keys are hashes already: it keeps them as they are (fast, and
/// the same on every platform, with no random seed to draw in the browser).
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; anything else still hashes, slowly.
        for b in bytes {
            self.0 = chain(self.0, u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One cached block: how many running sequences read it; none, and it may be evicted.
#[derive(Debug, Clone, Copy)]
struct Cached {
    refs: u32,
    /// Its place in the eviction order while nobody reads it.
    freed_at: u64,
}

/// The cached blocks by hash, and those nobody reads in the order they were freed. Blocks in
/// use are counted by the caller (`used`); blocks only cached are counted here, and are what
/// gets evicted when memory is wanted.
#[derive(Debug, Clone, Default)]
pub(super) struct PrefixCache {
    blocks: HashMap<u64, Cached, BuildHasherDefault<AlreadyHashed>>,
    evictable: BTreeMap<u64, u64>,
    next_stamp: u64,
}

impl PrefixCache {
    /// Blocks held only by the cache.
    pub(super) fn evictable(&self) -> u64 {
        self.evictable.len() as u64
    }

    /// How many of the leading `hashes` are cached.
    pub(super) fn hits(&self, hashes: &[u64]) -> u64 {
        hashes
            .iter()
            .take_while(|h| self.blocks.contains_key(h))
            .count() as u64
    }

    /// Marks a cached block as read by one more sequence; a block that only the cache held
    /// becomes used memory again.
    pub(super) fn pin(&mut self, hash: u64, used: &mut u64) {
        if let Some(block) = self.blocks.get_mut(&hash) {
            if block.refs == 0 {
                self.evictable.remove(&block.freed_at);
                *used += 1;
            }
            block.refs += 1;
        }
    }

    /// One reader less; the last one leaves the block to the cache, at the back of the
    /// eviction order.
    pub(super) fn unpin(&mut self, hash: u64, used: &mut u64) {
        if let Some(block) = self.blocks.get_mut(&hash) {
            block.refs = block.refs.saturating_sub(1);
            if block.refs == 0 {
                block.freed_at = self.next_stamp;
                self.evictable.insert(self.next_stamp, hash);
                self.next_stamp += 1;
                *used -= 1;
            }
        }
    }

    /// A block a sequence just computed becomes cached (read by that sequence). False when
    /// the same content was cached meanwhile: the sequence reads that one instead, and its
    /// own copy is to be freed.
    pub(super) fn insert(&mut self, hash: u64, used: &mut u64) -> bool {
        if self.blocks.contains_key(&hash) {
            self.pin(hash, used);
            return false;
        }
        self.blocks.insert(
            hash,
            Cached {
                refs: 1,
                freed_at: 0,
            },
        );
        true
    }

    /// Frees the least recently freed block nobody reads; false when there is none.
    pub(super) fn evict_one(&mut self) -> bool {
        match self.evictable.pop_first() {
            Some((_, hash)) => {
                self.blocks.remove(&hash);
                true
            }
            None => false,
        }
    }
}
