//! The compute layer's wire vocabulary (whitepaper §2.4; SPEC §4): node roles and kinds, hardware
//! inventories, the messages that register and run nodes. The rules live in the ledger's `nodes`
//! component; the daemons and the SDK build these values.

use crate::{AccountId, Amount};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Most GPU entries in one inventory.
pub const MAX_GPU_ENTRIES: usize = 8;
/// Longest GPU model name, region or other short label.
pub const MAX_LABEL_BYTES: usize = 32;
/// Longest endpoint URL.
pub const MAX_ENDPOINT_BYTES: usize = 256;

/// What a node does for the network.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs workloads (whitepaper §2.4.1).
    Compute,
    /// Places tasks on compute nodes (§2.4.3).
    Scheduler,
    /// Re-executes samples and proves misconduct (§2.4.2).
    Verifier,
}

/// SPEC §4 node kinds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Data-center grade.
    Stable,
    /// Individual or edge.
    Flexible,
}

/// One kind of GPU in a node.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GpuSpec {
    /// Model name as in the performance-factor table, e.g. `H100`.
    pub model: String,
    /// How many.
    pub count: u32,
    /// Memory per GPU, MiB.
    pub vram_mib: u32,
}

/// A node's hardware inventory.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Hardware {
    /// GPUs (none for a CPU-only node).
    pub gpus: Vec<GpuSpec>,
    /// CPU cores.
    pub cpu_cores: u32,
    /// Memory, MiB.
    pub ram_mib: u64,
}

/// Register the sender as a node of `role`, staking `stake` VCAI.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterNode {
    /// Role.
    pub role: Role,
    /// Kind.
    pub kind: NodeKind,
    /// Inventory (compute nodes; empty for the other roles).
    pub hardware: Hardware,
    /// Region label, e.g. `eu-west`.
    pub region: String,
    /// Where the node's own API listens.
    pub endpoint: String,
    /// Price offer per compute unit, USD base units (compute nodes).
    pub price_per_cu_usd: Amount,
    /// VCAI staked now.
    pub stake: Amount,
}

/// A signed status report (SPEC §4: at least every heartbeat interval).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct NodeHeartbeat {
    /// Load, parts per million of capacity in use.
    pub load_ppm: u32,
    /// The node's own health verdict.
    pub healthy: bool,
    /// Tasks running now.
    pub running_tasks: u32,
}

/// Change a node's offer.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UpdateNode {
    /// New price per CU, if changing.
    pub price_per_cu_usd: Option<Amount>,
    /// New endpoint, if changing.
    pub endpoint: Option<String>,
    /// New hardware inventory, if changing (capacity and stake requirement follow).
    pub hardware: Option<Hardware>,
}

/// Add VCAI to the node's stake.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AddStake {
    /// VCAI base units.
    pub amount: Amount,
}

/// Start unbonding part of the stake (slashable until released).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Unbond {
    /// VCAI base units.
    pub amount: Amount,
}

/// Take back every unbonding entry whose period has passed.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WithdrawUnbonded {}

/// A node as the ledger records it (also the API view).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's account (its key signs its heartbeats).
    pub id: AccountId,
    /// Role.
    pub role: Role,
    /// Kind.
    pub kind: NodeKind,
    /// Inventory.
    pub hardware: Hardware,
    /// Region.
    pub region: String,
    /// Endpoint.
    pub endpoint: String,
    /// Price per CU, USD base units.
    pub price_per_cu_usd: Amount,
    /// Bonded VCAI (not counting unbonding entries).
    pub stake: Amount,
    /// Capacity in CU per second × 10^6 (Σ performance factors, SPEC §4).
    pub capacity_cu_ppm: u64,
    /// Registration time, seconds after genesis.
    pub registered_s: u64,
    /// Last heartbeat, seconds after genesis.
    pub last_heartbeat_s: u64,
    /// Load at the last heartbeat, ppm.
    pub load_ppm: u32,
    /// Health at the last heartbeat.
    pub healthy: bool,
    /// Tasks running at the last heartbeat.
    pub running_tasks: u32,
    /// Seconds online so far, counted from heartbeats (SPEC §4, for Proof of Capacity).
    pub online_s: u64,
}
