//! Where the Redis store's keys live.
//!
//! On one Redis every key keeps the name it always had (`faas:task:ID`,
//! `faas:tasks`, `faas:function:ID`, ...). On Redis Cluster a script may
//! only touch keys of one slot, so the keys carry hash tags:
//! - a task's keys, and everything the scripts that move it along touch
//!   (its queue stream, the expiry index, the per-second counts, the
//!   tenant's and the function's counters), carry its **partition**'s tag:
//!   `faas:{pN.K}:task:ID`, `faas:{pN.K}:tasks`. A task's partition follows
//!   from its id, so any process finds it;
//! - the functions, modules, tenants' limits, API keys and the list of
//!   workers carry one tag, `faas:{g}:...`, so the scripts that change them
//!   together still can.
//!
//! Each partition's tag is picked so that partition N of P hashes to the
//! first slot at or after N/P of the slot space: a cluster whose shards
//! split the slots evenly (what `redis-cli --cluster create` does) gets
//! P/shards partitions each when the shard count divides P.

use crate::model::TaskId;

/// Redis Cluster's slot count.
const SLOTS: u32 = 16_384;
/// Partitions of a cluster deployment unless its URL says otherwise:
/// spread evenly over 1, 2, 3, 4, 6 or 12 shards.
pub const DEFAULT_PARTITIONS: usize = 12;
/// The most partitions a deployment may ask for.
pub const MAX_PARTITIONS: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Each partition's key prefix (one Redis: one, `faas:`).
    partitions: Vec<String>,
    /// The prefix of the keys every partition shares.
    global: String,
    cluster: bool,
}

impl Layout {
    /// One Redis: the names of old.
    pub fn single() -> Layout {
        Layout {
            partitions: vec!["faas:".to_string()],
            global: "faas:".to_string(),
            cluster: false,
        }
    }

    /// Redis Cluster with `count` partitions (1..=MAX_PARTITIONS).
    pub fn cluster(count: usize) -> Layout {
        let count = count.clamp(1, MAX_PARTITIONS);
        let partitions = (0..count)
            .map(|n| format!("faas:{{{}}}:", partition_tag(n, count)))
            .collect();
        Layout {
            partitions,
            global: "faas:{g}:".to_string(),
            cluster: true,
        }
    }

    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    pub fn count(&self) -> usize {
        self.partitions.len()
    }

    /// The partition of a task: from the random bits of its id.
    pub fn partition_of(&self, id: &TaskId) -> usize {
        (id.as_u128() % self.partitions.len() as u128) as usize
    }

    /// The prefix of partition `p`'s keys: what the task scripts get as
    /// KEYS[1] (its hash tag routes them to the partition's shard).
    pub fn prefix(&self, p: usize) -> &str {
        &self.partitions[p]
    }

    /// The prefix of the shared keys (KEYS[1] of the scripts on them).
    pub fn global(&self) -> &str {
        &self.global
    }

    pub fn stream(&self, p: usize) -> String {
        format!("{}tasks", self.partitions[p])
    }

    pub fn task_key(&self, p: usize, id: impl std::fmt::Display) -> String {
        format!("{}task:{id}", self.partitions[p])
    }

    /// The key of a task by its id.
    #[cfg(test)]
    pub fn task(&self, id: &TaskId) -> String {
        self.task_key(self.partition_of(id), id)
    }

    /// Partition `p`'s list of its latest tasks (a tenant's, if given).
    pub fn recent(&self, p: usize, tenant: Option<&str>) -> String {
        match tenant {
            Some(t) => format!("{}recent_tasks:{t}", self.partitions[p]),
            None => format!("{}recent_tasks", self.partitions[p]),
        }
    }

    /// Partition `p`'s counts of one second (see `lua/tally.lua`).
    pub fn stats(&self, p: usize, second: u64) -> String {
        format!("{}stats:{second}", self.partitions[p])
    }

    /// Partition `p`'s counters of a function's tasks (on one Redis, the
    /// function's own hash).
    pub fn function_counts(&self, p: usize, id: impl std::fmt::Display) -> String {
        format!("{}function:{id}", self.partitions[p])
    }

    /// Partition `p`'s count of a tenant's active tasks (on one Redis,
    /// the tenant's own hash).
    pub fn tenant_counts(&self, p: usize, tenant: &str) -> String {
        format!("{}tenant:{tenant}", self.partitions[p])
    }

    pub fn function(&self, id: impl std::fmt::Display) -> String {
        format!("{}function:{id}", self.global)
    }

    pub fn module(&self, hash: &str) -> String {
        format!("{}module:{hash}", self.global)
    }

    pub fn api_key(&self, id: &str) -> String {
        format!("{}apikey:{id}", self.global)
    }

    pub fn tenant(&self, tenant: &str) -> String {
        format!("{}tenant:{tenant}", self.global)
    }

    pub fn functions_index(&self, tenant: Option<&str>) -> String {
        match tenant {
            Some(t) => format!("{}functions:{t}", self.global),
            None => format!("{}functions", self.global),
        }
    }

    pub fn keys_index(&self) -> String {
        format!("{}apikeys", self.global)
    }

    /// A dispatcher's published list of workers.
    pub fn workers(&self, dispatcher: &str) -> String {
        format!("{}workers:{dispatcher}", self.global)
    }

    /// Where a cluster deployment records its partition count, so every
    /// process uses the first one's.
    pub fn partitions_key(&self) -> String {
        format!("{}partitions", self.global)
    }

    /// `ids`' positions grouped by partition (in order within each).
    pub fn group<'a>(&self, ids: impl IntoIterator<Item = &'a TaskId>) -> Vec<(usize, Vec<usize>)> {
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); self.count()];
        for (i, id) in ids.into_iter().enumerate() {
            groups[self.partition_of(id)].push(i);
        }
        groups
            .into_iter()
            .enumerate()
            .filter(|(_, positions)| !positions.is_empty())
            .collect()
    }
}

/// The hash tag of partition `n` of `count`: `pN.K` for the least K whose
/// slot lies in the first half of the partition's even share of the slots
/// (clear of where a shard's range may end).
fn partition_tag(n: usize, count: usize) -> String {
    let first = (n as u32 * SLOTS).div_ceil(count as u32);
    let end = ((n as u32 + 1) * SLOTS).div_ceil(count as u32);
    let half = first..(first + (end - first).div_ceil(2)).max(first + 1);
    (0u32..)
        .map(|k| format!("p{n}.{k}"))
        .find(|tag| half.contains(&u32::from(slot(tag.as_bytes()))))
        .expect("some tag hashes into every range")
}

/// Redis Cluster's slot of a key (CRC16/XMODEM of its hash tag, or of
/// the whole key if it has none).
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in tagged {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % SLOTS as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn slots_are_redis_clusters() {
        // As `CLUSTER KEYSLOT` answers.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"123456789"), 0x31C3);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
    }

    #[test]
    fn partitions_spread_evenly_over_even_shards() {
        let layout = Layout::cluster(12);
        for shards in [1u32, 2, 3, 4, 6, 12] {
            // As `redis-cli --cluster create` splits the slots: shard i
            // ends at round((i + 1) * S / n - 1).
            let ends: Vec<f64> = (0..shards)
                .map(|i| ((i + 1) as f64 * SLOTS as f64 / shards as f64 - 1.0).round())
                .collect();
            let mut per_shard = vec![0; shards as usize];
            for p in 0..12 {
                let s = f64::from(slot(layout.prefix(p).as_bytes()));
                let shard = ends.iter().position(|&end| s <= end).unwrap();
                per_shard[shard] += 1;
            }
            assert!(
                per_shard.iter().all(|&n| n == 12 / shards),
                "{shards} shards: {per_shard:?}"
            );
        }
        // A task's keys share its partition's slot.
        let id = Uuid::new_v4();
        let p = layout.partition_of(&id);
        assert_eq!(
            slot(layout.task(&id).as_bytes()),
            slot(layout.stream(p).as_bytes())
        );
        assert_eq!(slot(layout.function(id).as_bytes()), slot(b"g"));
    }

    #[test]
    fn one_redis_keeps_the_names_of_old() {
        let layout = Layout::single();
        let id = Uuid::nil();
        assert_eq!(layout.task(&id), format!("faas:task:{id}"));
        assert_eq!(layout.stream(0), "faas:tasks");
        assert_eq!(layout.recent(0, None), "faas:recent_tasks");
        assert_eq!(layout.functions_index(Some("t")), "faas:functions:t");
        assert_eq!(layout.tenant_counts(0, "t"), layout.tenant("t"));
        assert_eq!(layout.function_counts(0, id), layout.function(id));
    }
}
