//! What the executors and the collector share, so that neither imports the other: the
//! memory-bounded [`spool`] that spills to disk, the per-job output [`sink`] that executors
//! fill while a job runs, the `--results` files ([`results`]) and the JSON record of a
//! finished job ([`json`]), written by executors into `meta.json` and by the collector for
//! `--json`.

pub mod json;
pub mod results;
pub mod sink;
pub mod spool;
