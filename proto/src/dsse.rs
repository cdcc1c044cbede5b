//! DSSE v1 envelopes and their pre-authentication encoding (PAE).
//! (Being written: see the crate docs.)
