//! The Modbus register map a PLC programmer wires against: what the station writes into the
//! PLC's holding registers and coils, and what it reads back from the PLC's input registers.
//! Addresses are 0-based protocol addresses (add 40001 / 30001 / 1 for the classic
//! 5-digit notation) and all lie inside the first 1,000 of each table.
//!
//! Holding registers, station -> PLC (function 16, one request per block, so a block is never
//! seen half written):
//!
//! | address | name | meaning |
//! |---|---|---|
//! | 0 | map version | [`MAP_VERSION`] |
//! | 1 | heartbeat | +1 every heartbeat period while inspection runs; stops on a fault |
//! | 2 | station state | 0 stopped, 1 running, 2 paused, 3 fault ([`StationState`]) |
//! | 3 | fault code | 0 none, see [`FaultCode`] |
//! | 4 | slot count | N item slots in the ring ([`SLOTS`]) |
//! | 5 | result ready | low 16 bits of the newest item sequence written |
//! | 10 + 10 k | item slot k | the item with `seq % N == k`, see [`ItemSlot`] |
//!
//! An item slot (10 registers): `seq` low, `seq` high, track id (0 = none), capture time or
//! encoder count low, high (ms since the station started, or the PLC's encoder count latched
//! at the trigger), position across the belt (per mille of the frame width), verdict (1 pass,
//! 2 review, 3 reject), defect class id (0 = none, else 1 + the class's index in the model),
//! score x 1000 (saturated at 65,535; a non-finite score is written as 65,535 and judged
//! reject), and `seq` low again, written last in the same request as a consistency check.
//!
//! Input registers, PLC -> station (function 4, read every poll):
//!
//! | address | name | meaning |
//! |---|---|---|
//! | 0 | ack | low 16 bits of the newest item sequence the PLC has read |
//! | 1 | trigger | counter the PLC increments per trigger (triggered cameras) |
//! | 2 | recipe | product / recipe index the PLC selects |
//! | 3 | lot number | the PLC's lot number |
//! | 4 | reset | counter; a change clears a latched fault |
//!
//! Coils, station -> PLC: 0 heartbeat bit (toggles with the heartbeat), 1 fault (on while the
//! station is in fault).
//!
//! Handshake: the station writes item `seq` into slot `seq % N` only after the PLC has acked
//! `seq - N`, so no item is overwritten before the PLC has read it.

use crate::domain::Verdict;

/// Version of this map, in holding register 0.
pub const MAP_VERSION: u16 = 1;
/// Holding register: heartbeat counter.
pub const HR_HEARTBEAT: u16 = 1;
/// Holding register: first of the status block (version .. result ready).
pub const HR_STATUS: u16 = 0;
/// Registers in the status block (0..=5).
pub const STATUS_LEN: u16 = 6;
/// Holding register of item slot 0.
pub const HR_SLOTS: u16 = 10;
/// Registers per item slot.
pub const SLOT_LEN: u16 = 10;
/// Item slots in the ring.
pub const SLOTS: u16 = 8;
/// Input register: the PLC's ack.
pub const IR_ACK: u16 = 0;
/// Input register: trigger counter (triggered cameras).
pub const IR_TRIGGER: u16 = 1;
/// Input register: recipe / product index.
pub const IR_RECIPE: u16 = 2;
/// Input register: the PLC's lot number.
pub const IR_LOT: u16 = 3;
/// Input register: reset counter (a change clears a latched fault).
pub const IR_RESET: u16 = 4;
/// Input registers the station reads each poll (ack .. reset).
pub const IR_LEN: u16 = 5;
/// Coil: heartbeat bit.
pub const COIL_HEARTBEAT: u16 = 0;
/// Coil: fault.
pub const COIL_FAULT: u16 = 1;

// The status block ends before the ring, and the ring inside the first 1,000 registers.
const _: () = assert!(HR_STATUS + STATUS_LEN <= HR_SLOTS && HR_SLOTS + SLOTS * SLOT_LEN <= 1000);

/// The station's state as the PLC reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StationState {
    /// Not inspecting.
    Stopped = 0,
    /// Inspecting and sending decisions.
    Running = 1,
    /// Paused by an operator.
    Paused = 2,
    /// Cannot judge: see the fault code.
    Fault = 3,
}

/// Why the station is in fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    /// No fault.
    None = 0,
    /// No frame judged within the stall timeout.
    Stalled = 1,
    /// The camera or frame source is gone.
    SourceLost = 2,
    /// No model to judge with.
    ModelMissing = 3,
    /// Decisions were lost: the PLC did not ack in time and the queue overflowed.
    QueueOverflow = 4,
}

impl FaultCode {
    /// Its name in messages (`stalled`, `source_lost`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::None => "none",
            FaultCode::Stalled => "stalled",
            FaultCode::SourceLost => "source_lost",
            FaultCode::ModelMissing => "model_missing",
            FaultCode::QueueOverflow => "queue_overflow",
        }
    }

    /// The code from its register value; unknown values are `None`.
    pub fn from_register(v: u16) -> Option<FaultCode> {
        Some(match v {
            0 => FaultCode::None,
            1 => FaultCode::Stalled,
            2 => FaultCode::SourceLost,
            3 => FaultCode::ModelMissing,
            4 => FaultCode::QueueOverflow,
            _ => return None,
        })
    }
}

impl StationState {
    /// Its name in messages (`running`, `fault`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            StationState::Stopped => "stopped",
            StationState::Running => "running",
            StationState::Paused => "paused",
            StationState::Fault => "fault",
        }
    }

    /// The state from its register value.
    pub fn from_register(v: u16) -> Option<StationState> {
        Some(match v {
            0 => StationState::Stopped,
            1 => StationState::Running,
            2 => StationState::Paused,
            3 => StationState::Fault,
            _ => return None,
        })
    }
}

/// The verdict's register value.
pub fn verdict_code(v: Verdict) -> u16 {
    match v {
        Verdict::Pass => 1,
        Verdict::Review => 2,
        Verdict::Reject => 3,
    }
}

/// The verdict of a register value.
pub fn verdict_of(code: u16) -> Option<Verdict> {
    Some(match code {
        1 => Verdict::Pass,
        2 => Verdict::Review,
        3 => Verdict::Reject,
        _ => return None,
    })
}

/// One item slot's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemSlot {
    /// Item sequence number (every decision sent, from 1).
    pub seq: u32,
    /// Tracker id, 0 when untracked.
    pub track_id: u16,
    /// Capture time (ms since the station started) or the latched encoder count.
    pub stamp: u32,
    /// Position across the belt, per mille of the frame width.
    pub x_permille: u16,
    /// Verdict code (see [`verdict_code`]).
    pub verdict: u16,
    /// Defect class id, 0 = none.
    pub class_id: u16,
    /// Score x 1000, saturated.
    pub score_milli: u16,
}

impl ItemSlot {
    /// The slot's registers, in map order.
    pub fn to_registers(&self) -> [u16; SLOT_LEN as usize] {
        let lo = |v: u32| (v & 0xffff) as u16;
        let hi = |v: u32| (v >> 16) as u16;
        [
            lo(self.seq),
            hi(self.seq),
            self.track_id,
            lo(self.stamp),
            hi(self.stamp),
            self.x_permille,
            self.verdict,
            self.class_id,
            self.score_milli,
            lo(self.seq),
        ]
    }

    /// A slot read back; `None` when it is empty (seq 0) or torn (the two seq copies differ).
    pub fn from_registers(r: &[u16]) -> Option<ItemSlot> {
        if r.len() < SLOT_LEN as usize || r[0] != r[9] {
            return None;
        }
        let seq = u32::from(r[0]) | (u32::from(r[1]) << 16);
        (seq != 0).then_some(ItemSlot {
            seq,
            track_id: r[2],
            stamp: u32::from(r[3]) | (u32::from(r[4]) << 16),
            x_permille: r[5],
            verdict: r[6],
            class_id: r[7],
            score_milli: r[8],
        })
    }
}

/// Holding register address of the slot that carries `seq`.
pub fn slot_address(seq: u32) -> u16 {
    HR_SLOTS + (seq % u32::from(SLOTS)) as u16 * SLOT_LEN
}

/// Score x 1000 for the register: saturated, and a non-finite score reads as the maximum.
pub fn score_register(score: f64) -> u16 {
    if score.is_finite() {
        (score * 1000.0).round().clamp(0.0, 65_535.0) as u16
    } else {
        u16::MAX
    }
}

/// Whether the 16-bit ack covers `seq` (wrapping: the ack is at most half the range ahead).
pub fn acked(ack: u16, seq: u32) -> bool {
    let diff = ack.wrapping_sub(seq as u16);
    diff < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_reads_back_as_written_and_a_torn_one_is_refused() {
        let s = ItemSlot {
            seq: 70_001,
            track_id: 12,
            stamp: 123_456_789,
            x_permille: 640,
            verdict: verdict_code(Verdict::Reject),
            class_id: 2,
            score_milli: score_register(9.876),
        };
        let mut r = s.to_registers();
        assert_eq!(ItemSlot::from_registers(&r), Some(s));
        assert_eq!(s.score_milli, 9876);
        r[9] ^= 1;
        assert_eq!(ItemSlot::from_registers(&r), None);
        assert_eq!(ItemSlot::from_registers(&[0; 10]), None);
    }

    #[test]
    fn every_address_lies_in_the_first_thousand() {
        assert!(slot_address(SLOTS as u32 - 1) + SLOT_LEN <= 1000);
    }

    #[test]
    fn ack_comparison_wraps() {
        assert!(acked(5, 5));
        assert!(acked(6, 5));
        assert!(!acked(4, 5));
        assert!(acked(2, 65_535));
        assert!(!acked(65_535, 65_536 + 2));
    }

    #[test]
    fn a_score_that_is_not_a_number_reads_as_the_maximum() {
        assert_eq!(score_register(f64::NAN), u16::MAX);
        assert_eq!(score_register(1e9), u16::MAX);
        assert_eq!(score_register(-1.0), 0);
    }
}
