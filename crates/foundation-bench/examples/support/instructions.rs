//! The command line the callgrind examples share: `EXAMPLE CONTENDER COUNT`.

use tokio::runtime::Runtime;

/// The contender and count from the command line, and the current-thread runtime to run
/// them on. `example` names the example in the usage line.
pub fn contender_count_runtime(example: &str) -> Result<(String, u64, Runtime), String> {
    let mut args = std::env::args().skip(1);
    let usage = format!("usage: {example} CONTENDER COUNT");
    let contender = args.next().ok_or(usage.clone())?;
    let n: u64 = args.next().and_then(|n| n.parse().ok()).ok_or(usage)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    Ok((contender, n, rt))
}
