//! Redis URLs: opening a client from one (`redis://[user:password@]host:port`,
//! `rediss://` for TLS, optionally trusting a private CA, or
//! `redis+sentinel://` to ask Sentinels where the primary is), printing one
//! without its password, and the connection to the primary that follows
//! a Sentinel failover, or to a Redis Cluster (`redis+cluster://`).

use crate::error::{StoreError, StoreResult};
use crate::redis_store::has_code;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Client, Cmd, ConnectionAddr, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// `redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB]`:
/// the addresses are the Sentinels', SERVICE the name they monitor the
/// primary under; the user and password are the Redis nodes' (the
/// Sentinels are asked without them).
const SENTINEL_SCHEME: &str = "redis+sentinel://";
/// `redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][?partitions=N]`:
/// some nodes of a Redis Cluster (the rest are found from them), and how
/// many partitions the tasks are spread over (see `layout.rs`; the first
/// process to use the cluster records its count, and later ones use it).
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// How to reach Redis beyond what the URL says.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// For `rediss://`: PEM CA certificate(s) to trust instead of the
    /// system's roots (a private CA, or a self-signed server certificate).
    pub ca_cert_pem: Option<Vec<u8>>,
    /// After each write acknowledged to a client (a submission, a function,
    /// an API key or its revocation): Redis `WAIT` for this many replicas
    /// to hold it, up to [`WAIT_TIMEOUT`]; fewer answer `Unavailable`. 0: no
    /// WAIT (replication stays asynchronous).
    pub wait_replicas: u32,
}

/// How long a write waits for `wait_replicas` replicas.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(1);

/// The URL with its password (if any) replaced by `***`, for logs and
/// error messages: `redis://faas:secret@host:6379/0` ->
/// `redis://faas:***@host:6379/0`. A user name alone is kept.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        // Not a URL we can take apart: show none of it that could be a secret.
        return match url.rfind('@') {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_string(),
        };
    };
    // The last '@' anywhere, not only in the authority: a password with
    // an unencoded '/', '?' or '#' must not escape through a parser that
    // would end the authority there.
    let rest = &url[scheme_end..];
    let Some(at) = rest.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    let user = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    format!("{}{user}{}", &url[..scheme_end], &url[scheme_end + at..])
}

/// A client for `url` (not yet connected). Every connection made from it
/// (the shared one, the blocking one, the pub/sub one) carries the URL's
/// credentials and TLS settings.
pub(crate) fn open_client(url: &str, options: &RedisOptions) -> StoreResult<Client> {
    let shown = redact_url(url);
    let bad = |e: redis::RedisError| StoreError::Unavailable(format!("bad Redis URL {shown}: {e}"));
    if url.starts_with(SENTINEL_SCHEME) || url.starts_with(CLUSTER_SCHEME) {
        return Err(StoreError::Unavailable(format!(
            "{shown} names Sentinels or a cluster, not one Redis (Locator)"
        )));
    }
    match &options.ca_cert_pem {
        None => Client::open(url).map_err(bad),
        Some(pem) => {
            if !(url.starts_with("rediss://") || url.starts_with("valkeys://")) {
                return Err(StoreError::Unavailable(format!(
                    "a Redis CA certificate was given but {shown} does not use TLS: use rediss://"
                )));
            }
            Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            )
            .map_err(bad)
        }
    }
}

/// Where the primary is: at the URL's address, or wherever the Sentinels
/// say.
pub(crate) enum Locator {
    Fixed(Client),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
    /// A Redis Cluster: the client of its data connection, a client per
    /// node named in the URL (for pub/sub, which reaches every node), and
    /// the partition count the URL asks for.
    Cluster {
        client: ClusterClient,
        seeds: Vec<Client>,
        partitions: Option<usize>,
    },
}

/// The longest a Sentinel lookup (the Sentinels, then the primary they
/// name) may take.
const LOOKUP_LIMIT: Duration = Duration::from_secs(3);
/// The least time between two lookups after failures.
const LOOKUP_GAP: Duration = Duration::from_millis(200);

impl Locator {
    pub(crate) fn open(url: &str, options: &RedisOptions) -> StoreResult<Locator> {
        if url.starts_with(CLUSTER_SCHEME) {
            return Self::open_cluster(url, options);
        }
        if !url.starts_with(SENTINEL_SCHEME) {
            return open_client(url, options).map(Locator::Fixed);
        }
        let shown = redact_url(url);
        if options.ca_cert_pem.is_some() {
            return Err(StoreError::Unavailable(format!(
                "{shown}: TLS through Sentinel is not supported; drop --redis-cacert"
            )));
        }
        let parsed = SentinelUrl::parse(url)
            .map_err(|e| StoreError::Unavailable(format!("bad Redis URL {shown}: {e}")))?;
        let sentinels = parsed
            .sentinels
            .into_iter()
            .map(|(host, port)| ConnectionAddr::Tcp(host, port));
        let mut builder =
            SentinelClientBuilder::new(sentinels, &parsed.service, SentinelServerType::Master)
                .map(|b| b.set_client_to_redis_db(parsed.db))
                .map_err(|e| StoreError::Unavailable(format!("bad Redis URL {shown}: {e}")))?;
        if let Some(user) = parsed.user {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = parsed.password {
            builder = builder.set_client_to_redis_password(password);
        }
        let client = builder
            .build()
            .map_err(|e| StoreError::Unavailable(format!("bad Redis URL {shown}: {e}")))?;
        Ok(Locator::Sentinel(tokio::sync::Mutex::new(client)))
    }

    fn open_cluster(url: &str, options: &RedisOptions) -> StoreResult<Locator> {
        let shown = redact_url(url);
        let bad = |e: String| StoreError::Unavailable(format!("bad Redis URL {shown}: {e}"));
        if options.ca_cert_pem.is_some() {
            return Err(StoreError::Unavailable(format!(
                "{shown}: TLS to a Redis Cluster is not supported yet; drop --redis-cacert"
            )));
        }
        if options.wait_replicas > 0 {
            return Err(StoreError::Unavailable(format!(
                "{shown}: --redis-wait-replicas is not supported with a Redis Cluster \
                 (a write's WAIT must meet its own shard)"
            )));
        }
        let parsed = ClusterUrl::parse(url).map_err(bad)?;
        let node_url = |host: &str, port: u16| {
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_string()
            };
            format!("redis://{host}:{port}")
        };
        let mut builder = ClusterClientBuilder::new(
            parsed
                .nodes
                .iter()
                .map(|(host, port)| node_url(host, *port))
                .collect::<Vec<_>>(),
        )
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(3));
        if let Some(user) = &parsed.user {
            builder = builder.username(user);
        }
        if let Some(password) = &parsed.password {
            builder = builder.password(password);
        }
        let client = builder.build().map_err(|e| bad(e.to_string()))?;
        let mut seeds = Vec::new();
        for (host, port) in &parsed.nodes {
            let mut info = redis::IntoConnectionInfo::into_connection_info(node_url(host, *port))
                .map_err(|e| bad(e.to_string()))?;
            let mut redis = info.redis_settings().clone();
            if let Some(user) = &parsed.user {
                redis = redis.set_username(user);
            }
            if let Some(password) = &parsed.password {
                redis = redis.set_password(password);
            }
            info = info.set_redis_settings(redis);
            seeds.push(Client::open(info).map_err(|e| bad(e.to_string()))?);
        }
        Ok(Locator::Cluster {
            client,
            seeds,
            partitions: parsed.partitions,
        })
    }

    /// The partition count a cluster URL asks for.
    pub(crate) fn partitions(&self) -> Option<usize> {
        match self {
            Locator::Cluster { partitions, .. } => *partitions,
            _ => None,
        }
    }

    /// A client for the primary now.
    async fn primary(&self) -> RedisResult<Client> {
        match self {
            Locator::Fixed(client) => Ok(client.clone()),
            Locator::Cluster { seeds, .. } => Ok(seeds[0].clone()),
            Locator::Sentinel(sentinel) => {
                let lookup = async { sentinel.lock().await.async_get_client().await };
                tokio::time::timeout(LOOKUP_LIMIT, lookup)
                    .await
                    .unwrap_or_else(|_| {
                        Err(RedisError::from((
                            redis::ErrorKind::Io,
                            "no Sentinel named a primary in time",
                        )))
                    })
            }
        }
    }
}

/// A `redis+sentinel://` URL taken apart.
#[derive(Debug, PartialEq)]
struct SentinelUrl {
    sentinels: Vec<(String, u16)>,
    service: String,
    db: i64,
    user: Option<String>,
    password: Option<String>,
}

/// The user, password and `HOST[:PORT]` list of a URL's authority (after
/// its scheme), a missing port being `default_port`.
type Authority = (Option<String>, Option<String>, Vec<(String, u16)>);

fn parse_authority(authority: &str, default_port: u16) -> Result<Authority, String> {
    // The last '@': a password may hold one (as in redact_url).
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, password) = match info.split_once(':') {
                Some((u, p)) => (u, Some(percent_decode(p)?)),
                None => (info, None),
            };
            let user = Some(percent_decode(user)?).filter(|u| !u.is_empty());
            (user, password)
        }
    };
    let mut nodes = Vec::new();
    for host in hosts.split(',') {
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) => (
                name,
                port.parse::<u16>()
                    .map_err(|_| format!("bad port in {host:?}"))?,
            ),
            None => (host, default_port),
        };
        if name.is_empty() {
            return Err(format!("an address without a host: {host:?}"));
        }
        nodes.push((name.trim_matches(['[', ']']).to_string(), port));
    }
    Ok((user, password, nodes))
}

impl SentinelUrl {
    fn parse(url: &str) -> Result<SentinelUrl, String> {
        let rest = url
            .strip_prefix(SENTINEL_SCHEME)
            .ok_or("not a redis+sentinel:// URL")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, password, sentinels) = parse_authority(authority, 26379)?;
        let mut parts = path.split('/');
        let service = parts.next().unwrap_or("").to_string();
        if service.is_empty() {
            return Err(
                "no service name: redis+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE".into(),
            );
        }
        let db = match parts.next() {
            None | Some("") => 0,
            Some(db) => db.parse().map_err(|_| format!("bad database {db:?}"))?,
        };
        Ok(SentinelUrl {
            sentinels,
            service,
            db,
            user,
            password,
        })
    }
}

/// A `redis+cluster://` URL taken apart.
#[derive(Debug, PartialEq)]
struct ClusterUrl {
    nodes: Vec<(String, u16)>,
    user: Option<String>,
    password: Option<String>,
    partitions: Option<usize>,
}

impl ClusterUrl {
    fn parse(url: &str) -> Result<ClusterUrl, String> {
        let rest = url
            .strip_prefix(CLUSTER_SCHEME)
            .ok_or("not a redis+cluster:// URL")?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(
                "a cluster has no database: redis+cluster://HOST:PORT[,HOST:PORT...]".into(),
            );
        }
        let (user, password, nodes) = parse_authority(authority, 6379)?;
        let mut partitions = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("partitions", n)) => {
                    let n: usize = n
                        .parse()
                        .ok()
                        .filter(|n| (1..=crate::layout::MAX_PARTITIONS).contains(n))
                        .ok_or_else(|| {
                            format!(
                                "partitions must be 1 to {}, not {n:?}",
                                crate::layout::MAX_PARTITIONS
                            )
                        })?;
                    partitions = Some(n);
                }
                _ => return Err(format!("unknown option {pair:?} (known: partitions=N)")),
            }
        }
        Ok(ClusterUrl {
            nodes,
            user,
            password,
            partitions,
        })
    }
}

/// `%XX` escapes in a URL's user name or password.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a bad %-escape in the user or password")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user or password is not UTF-8".to_string())
}

/// The connection to the primary that the store's commands go through
/// (cloned per use, like the `ConnectionManager` it wraps). With Sentinel,
/// a command that fails as if the primary had gone (a connection error, a
/// timeout, READONLY from a demoted one) makes it ask the Sentinels again
/// in the background, and it moves to the primary they name; the failed
/// command's caller sees its error (a 503, a retry).
#[derive(Clone)]
pub(crate) struct Primary {
    shared: Arc<Shared>,
    /// The connection this handle keeps to (all of a fixed URL's
    /// handles; `pin` for a Sentinel's), or None: the current one.
    pinned: Option<ConnectionManager>,
    /// A Redis Cluster's connection, which routes each command to the
    /// shard of its key and follows failovers by itself.
    cluster: Option<ClusterConnection>,
}

struct Shared {
    locator: Locator,
    config: ConnectionManagerConfig,
    current: RwLock<(Client, ConnectionManager)>,
    looking: AtomicBool,
    looked_at: Mutex<Option<Instant>>,
    /// A cluster's node that pub/sub connects to now (an index into its
    /// seeds; the next one after a subscription drops).
    seed: AtomicUsize,
}

impl Primary {
    /// Connects to the primary (asking the Sentinels first if need be).
    pub(crate) async fn connect(
        locator: Locator,
        config: ConnectionManagerConfig,
    ) -> RedisResult<Primary> {
        let cluster = match &locator {
            Locator::Cluster { client, .. } => Some(client.get_async_connection().await?),
            _ => None,
        };
        let client = locator.primary().await?;
        // A cluster's commands take its own connection: this one (to the
        // first node named) is made lazily and used by none of them.
        let manager = match cluster {
            Some(_) => ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?,
            None => {
                client
                    .get_connection_manager_with_config(config.clone())
                    .await?
            }
        };
        let pinned = matches!(locator, Locator::Fixed(_)).then(|| manager.clone());
        Ok(Primary {
            shared: Arc::new(Shared {
                locator,
                config,
                current: RwLock::new((client, manager)),
                looking: AtomicBool::new(false),
                looked_at: Mutex::new(None),
                seed: AtomicUsize::new(0),
            }),
            pinned,
            cluster,
        })
    }

    pub(crate) fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// A handle whose commands all go to the primary of now, even if
    /// another is found meanwhile: a write and the WAIT for its
    /// replication must meet the same server.
    pub(crate) fn pin(&self) -> Primary {
        Primary {
            shared: self.shared.clone(),
            pinned: Some(self.manager()),
            cluster: self.cluster.clone(),
        }
    }

    /// A client for the primary of now (for connections of other kinds:
    /// pub/sub, blocking reads); in a cluster, for one of its nodes (any
    /// node's subscribers hear what is published on every node).
    pub(crate) fn client(&self) -> Client {
        if let Locator::Cluster { seeds, .. } = &self.shared.locator {
            return seeds[self.shared.seed.load(Ordering::Relaxed) % seeds.len()].clone();
        }
        self.shared
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// A fixed URL's handle, whose connection is used as it is (no
    /// lookups to start on errors).
    fn is_fixed(&self) -> bool {
        matches!(self.shared.locator, Locator::Fixed(_)) && self.pinned.is_some()
    }

    fn manager(&self) -> ConnectionManager {
        match &self.pinned {
            Some(manager) => manager.clone(),
            None => self
                .shared
                .current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .1
                .clone(),
        }
    }

    /// Called with a command's error (also by users of `client`): with
    /// Sentinel, one that may mean the primary is gone starts a lookup.
    pub(crate) fn failed(&self, error: &RedisError) {
        if primary_may_be_gone(error) {
            self.lost();
        }
    }

    /// With Sentinel: asks the Sentinels where the primary is now (a
    /// connection to it dropped).
    pub(crate) fn lost(&self) {
        match self.shared.locator {
            Locator::Sentinel(_) => self.shared.clone().look_up(),
            // Pub/sub moves to the next node named (this one may be down).
            Locator::Cluster { .. } => {
                self.shared.seed.fetch_add(1, Ordering::Relaxed);
            }
            Locator::Fixed(_) => {}
        }
    }
}

/// Errors after which the primary may be elsewhere.
fn primary_may_be_gone(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || has_code(error, "READONLY")
        || has_code(error, "MASTERDOWN")
}

impl Shared {
    /// Asks the Sentinels for the primary (one lookup at a time, at most
    /// one per LOOKUP_GAP) and moves to it if it is another.
    fn look_up(self: Arc<Self>) {
        if self.looking.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(async move {
            let since = self
                .looked_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .map(|t| t.elapsed());
            if let Some(since) = since.filter(|s| *s < LOOKUP_GAP) {
                tokio::time::sleep(LOOKUP_GAP - since).await;
            }
            self.move_to_primary().await;
            *self.looked_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            self.looking.store(false, Ordering::SeqCst);
        });
    }

    async fn move_to_primary(&self) {
        let client = match self.locator.primary().await {
            Ok(client) => client,
            Err(e) => {
                tracing::debug!("no primary from the Sentinels yet: {e}");
                return;
            }
        };
        let addr = client.get_connection_info().addr().to_string();
        let known = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .get_connection_info()
            .addr()
            .to_string();
        if addr == known {
            return; // the same server: its connection reconnects by itself
        }
        match client
            .get_connection_manager_with_config(self.config.clone())
            .await
        {
            Ok(manager) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = (client, manager);
                tracing::warn!(
                    "the Redis primary is now {addr} (was {known}), as the Sentinels say"
                );
            }
            Err(e) => tracing::debug!("cannot connect to the new primary {addr} yet: {e}"),
        }
    }
}

impl ConnectionLike for Primary {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        // `if let` would keep `self` borrowed past the branch (the borrow
        // checker's conditional-return limit), as with `pinned` below.
        #[allow(clippy::unnecessary_unwrap)]
        if self.cluster.is_some() {
            let cluster = self.cluster.as_mut().expect("a cluster handle");
            return cluster.req_packed_command(cmd);
        }
        if self.is_fixed() {
            // (Borrowed here only: a borrow that may be returned cannot
            // come before the branch.)
            let manager = self.pinned.as_mut().expect("a fixed handle is pinned");
            return manager.req_packed_command(cmd);
        }
        Box::pin(async move {
            let reply = self.manager().req_packed_command(cmd).await;
            if let Err(e) = &reply {
                self.failed(e);
            }
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        // `if let` would keep `self` borrowed past the branch (the borrow
        // checker's conditional-return limit), as with `pinned` below.
        #[allow(clippy::unnecessary_unwrap)]
        if self.cluster.is_some() {
            let cluster = self.cluster.as_mut().expect("a cluster handle");
            return cluster.req_packed_commands(pipeline, offset, count);
        }
        if self.is_fixed() {
            // (Borrowed here only: a borrow that may be returned cannot
            // come before the branch.)
            let manager = self.pinned.as_mut().expect("a fixed handle is pinned");
            return manager.req_packed_commands(pipeline, offset, count);
        }
        Box::pin(async move {
            let reply = self
                .manager()
                .req_packed_commands(pipeline, offset, count)
                .await;
            if let Err(e) = &reply {
                self.failed(e);
            }
            reply
        })
    }

    fn get_db(&self) -> i64 {
        self.manager().get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_url, ClusterUrl, SentinelUrl};

    #[test]
    fn passwords_are_never_shown() {
        for (url, shown) in [
            (
                "redis://faas:s3cret@10.0.0.1:6379",
                "redis://faas:***@10.0.0.1:6379",
            ),
            (
                "rediss://faas:s3cret@redis.example:6380/2",
                "rediss://faas:***@redis.example:6380/2",
            ),
            ("redis://:s3cret@host:6379", "redis://:***@host:6379"),
            // '@' and ':' inside the password (percent-encoding forgotten).
            ("redis://u:p@ss:w@host", "redis://u:***@host"),
            ("redis://u:s3cret/x?y#z@host", "redis://u:***@host"),
            ("redis://faas@host:6379", "redis://faas@host:6379"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://host/0?x=a@b", "redis://host/0?x=a@b"),
            ("not a url s3cret@host", "***@host"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("s3cret"), "{url}");
        }
    }

    #[test]
    fn a_sentinel_url_names_the_sentinels_and_the_service() {
        let url = "redis+sentinel://faas:p%40ss@10.0.0.1:26379,10.0.0.2:26380,sentinel3/mymaster/2";
        assert_eq!(
            SentinelUrl::parse(url),
            Ok(SentinelUrl {
                sentinels: vec![
                    ("10.0.0.1".into(), 26379),
                    ("10.0.0.2".into(), 26380),
                    ("sentinel3".into(), 26379)
                ],
                service: "mymaster".into(),
                db: 2,
                user: Some("faas".into()),
                password: Some("p@ss".into()),
            })
        );
        assert_eq!(redact_url(url).matches("p%40ss").count(), 0);
        let plain = SentinelUrl::parse("redis+sentinel://127.0.0.1:26379/faas").unwrap();
        assert_eq!((plain.db, plain.user, plain.password), (0, None, None));
        for bad in [
            "redis+sentinel://127.0.0.1:26379",
            "redis+sentinel://127.0.0.1:26379/",
            "redis+sentinel://127.0.0.1:x/faas",
            "redis+sentinel://:26379/faas",
            "redis+sentinel://h:1/faas/x",
        ] {
            assert!(SentinelUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cluster_url_names_some_nodes_and_maybe_the_partitions() {
        let url = "redis+cluster://faas:p%40ss@10.0.0.1:7000,10.0.0.2:7001,node3?partitions=24";
        assert_eq!(
            ClusterUrl::parse(url),
            Ok(ClusterUrl {
                nodes: vec![
                    ("10.0.0.1".into(), 7000),
                    ("10.0.0.2".into(), 7001),
                    ("node3".into(), 6379)
                ],
                user: Some("faas".into()),
                password: Some("p@ss".into()),
                partitions: Some(24),
            })
        );
        assert!(!redact_url(url).contains("p%40ss"));
        let plain = ClusterUrl::parse("redis+cluster://127.0.0.1:7000/").unwrap();
        assert_eq!((plain.partitions, plain.user), (None, None));
        for bad in [
            "redis+cluster://127.0.0.1:7000/0",
            "redis+cluster://127.0.0.1:x",
            "redis+cluster://:7000",
            "redis+cluster://h:1?partitions=0",
            "redis+cluster://h:1?partitions=100000",
            "redis+cluster://h:1?db=2",
        ] {
            assert!(ClusterUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
