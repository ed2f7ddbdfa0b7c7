//! What `--redis` and `kalipso open redis://` both ask of the server they reach before using it.

/// Fails with one line when the server is a Redis Cluster node: a cluster has no databases
/// but 0 (`IPsInfo` lives in N+1) and spreads keys over nodes, which kalipso does not follow
/// yet.
pub fn refuse_cluster(con: &mut redis::Connection, shown: &str) -> anyhow::Result<()> {
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query(con)
        .map_err(|e| anyhow::anyhow!("Redis at '{shown}': {e}"))?;
    if info.lines().any(|l| l.trim() == "cluster_enabled:1") {
        anyhow::bail!(
            "Redis at '{shown}' is a Redis Cluster node: kalipso writes and reads a single \
             server (databases N and N+1) and does not follow a cluster's keys yet"
        );
    }
    Ok(())
}
