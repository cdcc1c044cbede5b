//! C2SP signed notes and tlog-checkpoints.
//! (Being written: see the crate docs.)
