//! The profile's YAML sections as parsed, before validation.

use super::load::LoadSpec;
use crate::units::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// `process: gateway` or `process: [nginx, php-fpm]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ProcessNames {
    One(String),
    Many(Vec<String>),
}

impl ProcessNames {
    pub fn names(&self) -> Vec<String> {
        match self {
            ProcessNames::One(n) => vec![n.clone()],
            ProcessNames::Many(v) => v.clone(),
        }
    }
}

/// The profile as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Compose file, relative to the profile file.
    pub compose: PathBuf,
    /// The compose service under test.
    pub service: String,
    /// `comm` of the process(es) to sample: one name or a list; default: the
    /// container's main process.
    #[serde(default)]
    pub process: Option<ProcessNames>,
    /// How `setup` builds the target's image (bundled targets).
    #[serde(default)]
    pub build: Option<BuildSpec>,
    pub ready: ReadySpec,
    /// Environment always set on the service under test.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How the scaling lane sets the entity count.
    #[serde(default)]
    pub entities: Option<EntitiesSpec>,
    /// Named configuration knobs the sweep lane can vary.
    #[serde(default)]
    pub knobs: BTreeMap<String, KnobSpec>,
    /// Warm-up rules.
    #[serde(default)]
    pub steady: SteadySpec,
    /// HTTP or TCP traffic for the load lane (profile/load.rs).
    #[serde(default)]
    pub load: Option<LoadSpec>,
    /// The fault the fault lane injects, and how it probes for harm.
    #[serde(default)]
    pub fault: Option<FaultSpec>,
    /// How the heap and memcheck lanes run the target under a tool.
    #[serde(default)]
    pub wrap: Option<WrapSpec>,
    /// Create/delete actions for the churn lane.
    #[serde(default)]
    pub churn: Option<ChurnSpec>,
    /// A command run before warm-up and the window (buffers filled).
    #[serde(default)]
    pub prewarm: Option<super::prewarm::PrewarmSpec>,
    /// Compare's thresholds by metric key or glob, and absolute budgets
    /// (`profile/thresholds.rs`; the one field with two YAML sections).
    #[serde(default)]
    pub thresholds: BTreeMap<String, super::thresholds::ThresholdOverride>,
    #[serde(default)]
    pub budgets: BTreeMap<String, super::thresholds::Budget>,
    /// The lanes `suite` runs into one run, with their arguments.
    #[serde(default)]
    pub suite: Option<super::suite::SuiteSpec>,
}

/// The target under heaptrack or valgrind: an image that has the tools,
/// and the target's command line, which the generated override wraps in
/// the tool (an argv vector, never a shell line).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapSpec {
    /// The target's full command line inside the container.
    pub argv: Vec<String>,
    /// An image with the target plus heaptrack and valgrind.
    pub image: String,
    /// How `setup` builds `image` (relative to the profile file), after
    /// `build.image`, so it can start `FROM` it.
    #[serde(default)]
    pub dockerfile: Option<PathBuf>,
    /// Environment for wrapped runs, on top of `env`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Readiness timeout under a tool (valgrind runs the target 20–50× slower).
    #[serde(default = "default_wrap_ready")]
    pub ready_timeout: HumanDuration,
    /// After SIGTERM, how long the target and the tool get to exit and write
    /// their final report before the run is failed.
    #[serde(default = "default_wrap_grace")]
    pub stop_grace: HumanDuration,
    #[serde(default)]
    pub heap: HeapSpec,
    #[serde(default)]
    pub memcheck: MemcheckSpec,
}

/// The heap lane's gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeapSpec {
    /// LEAK when heaptrack's "total memory leaked" exceeds this. heaptrack
    /// counts every block not freed at exit, statics of the runtime
    /// included, so this is not 0.
    #[serde(
        default = "default_heap_threshold",
        deserialize_with = "crate::units::de_bytes_u64"
    )]
    pub threshold_bytes: u64,
}

impl Default for HeapSpec {
    fn default() -> Self {
        HeapSpec {
            threshold_bytes: default_heap_threshold(),
        }
    }
}

/// The memcheck lane's gate and suppressions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemcheckSpec {
    /// LEAK when valgrind's "definitely lost" bytes exceed this.
    #[serde(default, deserialize_with = "crate::units::de_bytes_u64")]
    pub threshold_bytes: u64,
    /// A directory of valgrind suppression files (`*.supp`), relative to the
    /// profile file; each is passed with `--suppressions`.
    #[serde(default)]
    pub suppressions: Option<PathBuf>,
}

fn default_wrap_ready() -> HumanDuration {
    HumanDuration(Duration::from_secs(180))
}
fn default_wrap_grace() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_heap_threshold() -> u64 {
    64 * 1024
}

/// Create/delete cycles: each cycle creates `batch` objects, then deletes
/// them, over one keep-alive HTTP connection, or with one command in the
/// container for each half (`{batch}` in an argument is the batch size).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnSpec {
    /// Container port of both requests (HTTP churn only).
    #[serde(default)]
    pub port: Option<u16>,
    pub create: ChurnRequest,
    pub delete: ChurnRequest,
    /// Objects created, then deleted, per cycle.
    #[serde(default = "default_batch")]
    pub batch: u32,
    /// Memory growth per cycle that is too small to call a leak.
    #[serde(
        default = "default_churn_floor",
        deserialize_with = "crate::units::de_bytes_f64"
    )]
    pub floor_bytes_per_cycle: f64,
    /// Environment for both churn runs, on top of `env`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Metrics judged per cycle (any sampled metric); `--metrics`
    /// overrides it. Default: pss_anon, fds, threads.
    #[serde(default)]
    pub metrics: Vec<crate::results::MetricKind>,
}

/// One churn request: HTTP (`method`, `path`; `{id}` in the path is
/// replaced with the id the create request returned) or a command in the
/// container (`exec`, once per cycle for the whole batch).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnRequest {
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    /// Create only: JSON pointer to the new object's id in the response.
    #[serde(default)]
    pub id: Option<String>,
    /// Request body, sent as `application/json` (none by default).
    #[serde(default)]
    pub body: Option<String>,
}

fn default_batch() -> u32 {
    10
}
/// One page: USS moves in whole pages, so smaller growth per cycle is
/// below what it resolves in a short run.
fn default_churn_floor() -> f64 {
    4096.0
}

/// A fault: what to do to the target, as an HTTP request, a command in
/// the container (argv, never a shell line) or an engine action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `{ http: {...} }`, `{ exec: [...] }` or `{ engine: {...} }`.
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub action: FaultAction,
    /// Pause between the burst's faults when the action repeats.
    #[serde(default = "zero_duration")]
    pub interval: HumanDuration,
    /// What the lane's probing client asks, when not the ready probe (a
    /// profile whose readiness is `exec` names a port here).
    #[serde(default)]
    pub client: Option<ClientProbe>,
}

/// A network probe a client can send at a fixed rate: exactly one of an
/// HTTP GET answering 200 or a TCP connection accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientProbe {
    #[serde(default)]
    pub http: Option<HttpGet>,
    #[serde(default)]
    pub tcp: Option<u16>,
}

impl FaultSpec {
    /// The fault lane's client probe: `client` if given, else the ready
    /// probe when it speaks over the network; (container port, HTTP path).
    pub fn client_probe(&self, ready: &ReadySpec) -> Option<(u16, Option<String>)> {
        match &self.client {
            Some(ClientProbe { http: Some(h), .. }) => Some((h.port, Some(h.path.clone()))),
            Some(ClientProbe { tcp: Some(p), .. }) => Some((*p, None)),
            Some(_) => None,
            None => match ready.probe() {
                ReadyProbe::Http(h) => Some((h.port, Some(h.path.clone()))),
                ReadyProbe::Tcp(p) => Some((p, None)),
                ReadyProbe::Exec(_) => None,
            },
        }
    }
}

fn zero_duration() -> HumanDuration {
    HumanDuration(Duration::ZERO)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// `{burst}` in the path carries the burst size in one request.
    Http(FaultHttp),
    /// `{burst}` in an argument carries the burst size in one command.
    Exec(Vec<String>),
    Engine(EngineAction),
}

impl FaultAction {
    /// Whether one action carries the whole burst (`{burst}` placeholder).
    pub fn takes_count(&self) -> bool {
        match self {
            FaultAction::Http(h) => h.path.contains("{burst}"),
            FaultAction::Exec(argv) => argv.iter().any(|a| a.contains("{burst}")),
            FaultAction::Engine(_) => false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultHttp {
    #[serde(default = "default_post")]
    pub method: String,
    pub port: u16,
    pub path: String,
}

fn default_post() -> String {
    "POST".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineAction {
    pub op: EngineOp,
    /// How long a pause or a disconnection lasts (default 1s).
    #[serde(default)]
    pub duration: Option<HumanDuration>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EngineOp {
    Pause,
    Restart,
    Kill,
    Disconnect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    /// Image tag the compose file refers to.
    pub image: String,
    /// Dockerfile, relative to the profile file.
    pub dockerfile: PathBuf,
    /// A workspace package whose release binary is copied into the build context.
    #[serde(default)]
    pub cargo_package: Option<String>,
    /// The build context, relative to the profile file (default: a staging
    /// directory holding only the `cargo_package` binary).
    #[serde(default)]
    pub context: Option<PathBuf>,
}

/// How the harness tells the service is ready: exactly one of an HTTP GET
/// answering 200, a TCP port accepting connections, or a command in the
/// container exiting 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadySpec {
    #[serde(default)]
    pub http: Option<HttpGet>,
    #[serde(default)]
    pub tcp: Option<u16>,
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    #[serde(default = "default_ready_timeout")]
    pub timeout: HumanDuration,
}

/// The one readiness probe a validated [`ReadySpec`] names.
#[derive(Debug, Clone, Copy)]
pub enum ReadyProbe<'a> {
    Http(&'a HttpGet),
    Tcp(u16),
    Exec(&'a [String]),
}

impl ReadySpec {
    pub fn probe(&self) -> ReadyProbe<'_> {
        match (&self.http, self.tcp, &self.exec) {
            (Some(h), _, _) => ReadyProbe::Http(h),
            (None, Some(p), _) => ReadyProbe::Tcp(p),
            (None, None, Some(argv)) => ReadyProbe::Exec(argv),
            // Validation guarantees one; an exec of nothing fails loudly.
            (None, None, None) => ReadyProbe::Exec(&[]),
        }
    }

    /// The container port the probe talks to, if any.
    pub fn port(&self) -> Option<u16> {
        match self.probe() {
            ReadyProbe::Http(h) => Some(h.port),
            ReadyProbe::Tcp(p) => Some(p),
            ReadyProbe::Exec(_) => None,
        }
    }
}

fn default_ready_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

/// An HTTP GET against a container port; the harness reaches it through a
/// port it publishes on 127.0.0.1.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpGet {
    pub port: u16,
    #[serde(default = "default_path")]
    pub path: String,
}

fn default_path() -> String {
    "/".into()
}

/// A value read back from the target to prove a setting was applied:
/// exactly one of a JSON field of an HTTP answer (`http` + `json`), the
/// trimmed stdout of a command in the container (`exec`), or a memcached
/// statistic (`memcached`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    #[serde(default)]
    pub http: Option<HttpGet>,
    /// JSON pointer (RFC 6901) into the response, e.g. `/entities`.
    #[serde(default)]
    pub json: Option<String>,
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    #[serde(default)]
    pub memcached: Option<MemcachedStat>,
}

/// The one way a validated [`CheckSpec`] reads its value.
#[derive(Debug, Clone, Copy)]
pub enum CheckKind<'a> {
    Http { http: &'a HttpGet, json: &'a str },
    Exec(&'a [String]),
    Memcached(&'a MemcachedStat),
}

impl CheckSpec {
    pub fn kind(&self) -> CheckKind<'_> {
        match (&self.http, &self.exec, &self.memcached) {
            (Some(http), _, _) => CheckKind::Http {
                http,
                json: self.json.as_deref().unwrap_or("/"),
            },
            (None, Some(argv), _) => CheckKind::Exec(argv),
            (None, None, Some(m)) => CheckKind::Memcached(m),
            (None, None, None) => CheckKind::Exec(&[]),
        }
    }

    /// How the check reads, for messages.
    pub fn describe(&self) -> String {
        match self.kind() {
            CheckKind::Http { http, json } => format!("GET :{}{} {json}", http.port, http.path),
            CheckKind::Exec(argv) => format!("exec {argv:?}"),
            CheckKind::Memcached(m) => format!("memcached :{} stats {}", m.port, m.stat),
        }
    }

    pub fn port(&self) -> Option<u16> {
        match self.kind() {
            CheckKind::Http { http, .. } => Some(http.port),
            CheckKind::Exec(_) => None,
            CheckKind::Memcached(m) => Some(m.port),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemcachedStat {
    pub port: u16,
    /// A name from the `stats` command, e.g. `curr_items`.
    pub stat: String,
}

/// How the scaling lane sets the entity count: exactly one of an
/// environment variable read at start (`env`), a command run in the
/// container once it is ready (`exec`, `{n}` in an argument is the count),
/// or items stored through the memcached protocol by runcost (`memcached`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitiesSpec {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    #[serde(default)]
    pub memcached: Option<MemcachedFill>,
    /// Held connections are the entities (profile/hold.rs).
    #[serde(default)]
    pub hold: Option<super::hold::EntitiesHold>,
    #[serde(default)]
    pub check: Option<CheckSpec>,
    /// For `exec` and `memcached`: the count the other lanes (footprint,
    /// load, fault) create; none by default.
    #[serde(default)]
    pub default: Option<u64>,
    /// The memory metric the scaling lane fits by default (any of
    /// `MetricKind::MEMORY`, cgroup ones included); `--metric` overrides it.
    #[serde(default)]
    pub metric: Option<crate::results::MetricKind>,
}

/// The one way a validated [`EntitiesSpec`] sets the count.
#[derive(Debug, Clone, Copy)]
pub enum EntitySetter<'a> {
    Env(&'a str),
    Exec(&'a [String]),
    Memcached(&'a MemcachedFill),
    Hold(&'a super::hold::EntitiesHold),
}

impl EntitiesSpec {
    pub fn setter(&self) -> EntitySetter<'_> {
        match (&self.env, &self.exec, &self.memcached, &self.hold) {
            (Some(e), _, _, _) => EntitySetter::Env(e),
            (None, Some(argv), _, _) => EntitySetter::Exec(argv),
            (None, None, Some(m), _) => EntitySetter::Memcached(m),
            (None, None, None, Some(h)) => EntitySetter::Hold(h),
            (None, None, None, None) => EntitySetter::Exec(&[]),
        }
    }
}

/// Items stored through the memcached text protocol: keys `{prefix}{i}`,
/// values of `value_bytes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemcachedFill {
    pub port: u16,
    #[serde(
        default = "default_value_bytes",
        deserialize_with = "crate::units::de_bytes_usize"
    )]
    pub value_bytes: usize,
    #[serde(default = "default_key_prefix")]
    pub prefix: String,
}

fn default_value_bytes() -> usize {
    100
}
fn default_key_prefix() -> String {
    "runcost:".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobSpec {
    pub env: String,
    #[serde(default)]
    pub check: Option<CheckSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteadySpec {
    /// USS slope under this many bytes/s counts as flat.
    #[serde(
        default = "default_floor",
        deserialize_with = "crate::units::de_bytes_f64"
    )]
    pub floor_bytes_per_s: f64,
    /// Trailing window over which the slope is judged.
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    /// Give up and report `not_steady` after this long.
    #[serde(default = "default_steady_timeout")]
    pub timeout: HumanDuration,
}

fn default_floor() -> f64 {
    64.0 * 1024.0
}
fn default_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(3))
}
fn default_steady_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

impl Default for SteadySpec {
    fn default() -> Self {
        SteadySpec {
            floor_bytes_per_s: default_floor(),
            window: default_window(),
            timeout: default_steady_timeout(),
        }
    }
}
