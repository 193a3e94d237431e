//! Planning context: hands out per-generator RNGs, collects generators and
//! the label metadata each tag stands for.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::engine::{Gen, Micros};
use crate::Behaviour;

pub(crate) struct ActivityMeta {
    pub kind: &'static str,
    pub peer: String,
    pub rate_pps: f64,
    pub notes: String,
}

pub(crate) struct BehaviourMeta {
    pub kind: Behaviour,
    pub variant: String,
    pub target: String,
    pub targets: Vec<String>,
    pub dst_ports: Vec<u16>,
    pub rate_pps: f64,
    pub notes: String,
}

pub(crate) enum TagMeta {
    Activity(ActivityMeta),
    Behaviour(BehaviourMeta),
}

pub(crate) struct TagInfo {
    pub device: usize,
    pub meta: TagMeta,
}

pub(crate) struct Ctx {
    master: ChaCha8Rng,
    pub gens: Vec<Box<dyn Gen>>,
    pub tags: Vec<TagInfo>,
    /// End of the capture (µs from start).
    pub end: Micros,
    /// Frames one high-volume benign activity may use.
    pub heavy_share: u64,
    /// Frames one flood may use.
    pub flood_share: u64,
}

impl Ctx {
    pub fn new(master: ChaCha8Rng, end: Micros) -> Self {
        Ctx {
            master,
            gens: Vec::new(),
            tags: Vec::new(),
            end,
            heavy_share: u64::MAX,
            flood_share: u64::MAX,
        }
    }

    /// An independent RNG for one generator, derived in planning order so
    /// the whole capture depends on the seed alone.
    pub fn rng(&mut self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.master.gen())
    }

    /// The planner's own RNG (for decisions, not for generators).
    pub fn plan_rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.master
    }

    pub fn add(&mut self, g: Box<dyn Gen>) {
        self.gens.push(g);
    }

    pub fn activity(
        &mut self,
        device: usize,
        kind: &'static str,
        peer: String,
        rate_pps: f64,
        notes: String,
    ) -> u32 {
        self.tags.push(TagInfo {
            device,
            meta: TagMeta::Activity(ActivityMeta {
                kind,
                peer,
                rate_pps,
                notes,
            }),
        });
        (self.tags.len() - 1) as u32
    }

    pub fn behaviour(&mut self, device: usize, meta: BehaviourMeta) -> u32 {
        self.tags.push(TagInfo {
            device,
            meta: TagMeta::Behaviour(meta),
        });
        (self.tags.len() - 1) as u32
    }
}
