//! Profiles: a YAML file per target saying how to start it (compose file and
//! service), which process to sample, how to tell it is ready, and how the
//! harness sets entity counts and knobs. Relative paths in a profile are
//! resolved against the profile file's own directory, as compose does.
//!
//! Every error names the file, the line, the field and the fix.

use crate::error::BadInput;
use crate::units::HumanDuration;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    /// HTTP traffic for the load lane.
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

/// HTTP load: a weighted mix of requests against one container port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub port: u16,
    pub requests: Vec<LoadRequest>,
    /// Keep-alive connections (default 16).
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// A request not answered within this counts as an error, at this latency.
    #[serde(default = "default_load_timeout")]
    pub timeout: HumanDuration,
    /// `{rand}` in a path becomes a random integer in [0, rand_max).
    #[serde(default = "default_rand_max")]
    pub rand_max: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadRequest {
    #[serde(default = "default_method")]
    pub method: String,
    /// Path template: `{rand}` and `{seq}` are substituted.
    pub path: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default)]
    pub body: Option<String>,
}

fn default_connections() -> usize {
    16
}
fn default_load_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(2))
}
fn default_rand_max() -> u64 {
    1000
}
fn default_method() -> String {
    "GET".into()
}
fn default_weight() -> u32 {
    1
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
}

impl EntitiesSpec {
    pub fn setter(&self) -> EntitySetter<'_> {
        match (&self.env, &self.exec, &self.memcached) {
            (Some(e), _, _) => EntitySetter::Env(e),
            (None, Some(argv), _) => EntitySetter::Exec(argv),
            (None, None, Some(m)) => EntitySetter::Memcached(m),
            (None, None, None) => EntitySetter::Exec(&[]),
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

/// A validated profile with resolved paths.
#[derive(Debug, Clone)]
pub struct Profile {
    pub spec: ProfileSpec,
    /// The profile file.
    pub path: PathBuf,
    /// Absolute compose file path.
    pub compose_file: PathBuf,
    /// Services declared in the compose file (all get our labels).
    pub compose_services: Vec<String>,
    /// sha256 of the profile text, recorded in results.
    pub hash: String,
    /// `wrap.memcheck.suppressions`, resolved and checked to be a directory.
    pub suppressions_dir: Option<PathBuf>,
}

impl Profile {
    /// The process names to sample (empty: the container's main process).
    pub fn process_names(&self) -> Vec<String> {
        self.spec
            .process
            .as_ref()
            .map(ProcessNames::names)
            .unwrap_or_default()
    }

    /// Resolves `--profile NAME|PATH`: a path if it names a file, else
    /// `profiles/<NAME>.yaml` under the repository root.
    pub fn resolve(repo_root: &Path, arg: &str) -> Result<Profile> {
        let as_path = PathBuf::from(arg);
        let path = if as_path.is_file() {
            as_path
        } else {
            let candidate = repo_root.join("profiles").join(format!("{arg}.yaml"));
            if !candidate.is_file() {
                let known = list_names(repo_root).join(", ");
                return Err(BadInput(format!(
                    "--profile {arg}: no such file and no profiles/{arg}.yaml; \
                     known profiles: {known}"
                ))
                .into());
            }
            candidate
        };
        Profile::load(&path)
    }

    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read profile {}", path.display()))?;
        Profile::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Profile> {
        let shown = path.display();
        let de = serde_yaml::Deserializer::from_str(text);
        let spec: ProfileSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let at = inner
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            let field = if field == "." {
                String::new()
            } else {
                format!(" field `{field}`:")
            };
            BadInput(format!(
                "{shown}{at}:{field} {inner}; fix the profile (see README, \"Writing a profile\")"
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let err = |key: &str, msg: String| -> anyhow::Error {
            let line = line_of(text, key)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            BadInput(format!("{shown}{line}: field `{key}`: {msg}")).into()
        };

        if spec.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        let compose_file = dir.join(&spec.compose);
        if !compose_file.is_file() {
            return Err(err(
                "compose",
                format!(
                    "compose file {} does not exist; the path is relative to the profile file",
                    compose_file.display()
                ),
            ));
        }
        let compose_services = compose_service_names(&compose_file)?;
        if !compose_services.contains(&spec.service) {
            return Err(err(
                "service",
                format!(
                    "service `{}` is not in {}; it declares: {}",
                    spec.service,
                    compose_file.display(),
                    compose_services.join(", ")
                ),
            ));
        }
        if let Some(p) = &spec.process {
            let names = p.names();
            if names.is_empty() {
                return Err(err(
                    "process",
                    "is an empty list; name at least one process, or leave `process:` out to sample the main process".into(),
                ));
            }
            for n in &names {
                if n.is_empty() || n.len() > 15 {
                    return Err(err(
                        "process",
                        format!("`{n}` must be a process name as /proc/<pid>/comm shows it (1 to 15 characters)"),
                    ));
                }
            }
            if let Some(d) = names
                .iter()
                .enumerate()
                .find_map(|(i, n)| names[..i].contains(n).then_some(n))
            {
                return Err(err("process", format!("`{d}` is listed twice")));
            }
        }
        let argv_ok = |key: &str, argv: &[String], example: &str| {
            if argv.is_empty() || argv[0].trim().is_empty() {
                Err(err(
                    key,
                    format!("must be a command as an argv list, e.g. {example}"),
                ))
            } else {
                Ok(())
            }
        };
        let check_ok = |c: &CheckSpec| -> Result<()> {
            let kinds = usize::from(c.http.is_some())
                + usize::from(c.exec.is_some())
                + usize::from(c.memcached.is_some());
            if kinds != 1 {
                return Err(err(
                    "check",
                    "must read the value one way: `http` with `json`, `exec`, or `memcached`"
                        .into(),
                ));
            }
            match (&c.http, &c.json) {
                (Some(h), Some(j)) => {
                    if !j.starts_with('/') {
                        return Err(err(
                            "json",
                            format!("`{j}` is not a JSON pointer; write e.g. /entities"),
                        ));
                    }
                    if !h.path.starts_with('/') {
                        return Err(err("path", format!("`{}` must start with /", h.path)));
                    }
                }
                (Some(_), None) => return Err(err(
                    "check",
                    "an `http` check needs `json`: the JSON pointer of the value, e.g. /entities"
                        .into(),
                )),
                (None, Some(_)) => {
                    return Err(err("json", "goes with an `http` check only".into()))
                }
                (None, None) => {}
            }
            if let Some(argv) = &c.exec {
                argv_ok("exec", argv, "[redis-cli, DBSIZE]")?;
            }
            if let Some(m) = &c.memcached {
                if m.stat.is_empty() || m.stat.contains(char::is_whitespace) {
                    return Err(err(
                        "stat",
                        "must name one statistic, e.g. curr_items".into(),
                    ));
                }
            }
            Ok(())
        };
        if let Some(e) = &spec.entities {
            let ways = usize::from(e.env.is_some())
                + usize::from(e.exec.is_some())
                + usize::from(e.memcached.is_some());
            if ways != 1 {
                return Err(err(
                    "entities",
                    "must set the count one way: `env`, `exec` (with {n}) or `memcached`".into(),
                ));
            }
            if let Some(name) = &e.env {
                check_env_name(name).map_err(|m| err("env", m))?;
                if e.default.is_some() {
                    return Err(err(
                        "default",
                        format!("with `env`, the default count is the profile's `env.{name}`"),
                    ));
                }
            }
            if let Some(argv) = &e.exec {
                argv_ok("exec", argv, "[redis-cli, DEBUG, POPULATE, \"{n}\"]")?;
                if !argv.iter().any(|a| a.contains("{n}")) {
                    return Err(err(
                        "exec",
                        "no argument contains {n}, the entity count; e.g. [redis-cli, DEBUG, POPULATE, \"{n}\"]".into(),
                    ));
                }
            }
            if let Some(m) = &e.memcached {
                if m.value_bytes == 0 || m.value_bytes > 1 << 20 {
                    return Err(err("value_bytes", "must be between 1 and 1048576".into()));
                }
                if m.prefix.is_empty()
                    || m.prefix.len() > 200
                    || m.prefix
                        .contains(|c: char| c.is_whitespace() || c.is_control())
                {
                    return Err(err(
                        "prefix",
                        "must be 1-200 characters without spaces (a memcached key prefix)".into(),
                    ));
                }
            }
            if let Some(c) = &e.check {
                check_ok(c)?;
            }
            use crate::results::MetricKind as M;
            if let Some(m) = e.metric {
                if !M::MEMORY.contains(&m) {
                    return Err(err(
                        "metric",
                        format!(
                            "`{}` is not a memory metric; use one of {}",
                            m.name(),
                            M::names(&M::MEMORY)
                        ),
                    ));
                }
            }
        }
        for k in spec.knobs.values() {
            check_env_name(&k.env).map_err(|m| err("env", m))?;
            if let Some(c) = &k.check {
                check_ok(c)?;
            }
        }
        let r = &spec.ready;
        let ways = usize::from(r.http.is_some())
            + usize::from(r.tcp.is_some())
            + usize::from(r.exec.is_some());
        if ways != 1 {
            return Err(err(
                "ready",
                "must name one readiness probe: `http: { port, path }`, `tcp: PORT` or `exec: [argv]`".into(),
            ));
        }
        if let Some(h) = &r.http {
            if !h.path.starts_with('/') {
                return Err(err("path", format!("`{}` must start with /", h.path)));
            }
        }
        if let Some(argv) = &r.exec {
            argv_ok("exec", argv, "[redis-cli, ping]")?;
        }
        if let Some(c) = spec.fault.as_ref().and_then(|f| f.client.as_ref()) {
            if usize::from(c.http.is_some()) + usize::from(c.tcp.is_some()) != 1 {
                return Err(err(
                    "client",
                    "must name one probe: `http: { port, path }` or `tcp: PORT`".into(),
                ));
            }
            if let Some(h) = &c.http {
                if !h.path.starts_with('/') {
                    return Err(err("path", format!("`{}` must start with /", h.path)));
                }
            }
        }
        if let Some(load) = &spec.load {
            if load.requests.is_empty() {
                return Err(err(
                    "requests",
                    "the load mix is empty; list at least one request".into(),
                ));
            }
            for r in &load.requests {
                const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"];
                if !METHODS.contains(&r.method.as_str()) {
                    return Err(err(
                        "method",
                        format!("`{}` is not one of {}", r.method, METHODS.join(", ")),
                    ));
                }
                if !r.path.starts_with('/') {
                    return Err(err("path", format!("`{}` must start with /", r.path)));
                }
                if r.weight == 0 {
                    return Err(err("weight", "must be at least 1".into()));
                }
            }
            if !(1..=10_000).contains(&load.connections) {
                return Err(err("connections", "must be between 1 and 10000".into()));
            }
            if load.rand_max == 0 {
                return Err(err("rand_max", "must be at least 1".into()));
            }
        }
        if spec.steady.floor_bytes_per_s <= 0.0 || !spec.steady.floor_bytes_per_s.is_finite() {
            return Err(err("floor_bytes_per_s", "must be a positive number".into()));
        }
        let in_section = |section: &str, key: &str, msg: String| -> anyhow::Error {
            let line = line_in_section(text, section, key)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            BadInput(format!("{shown}{line}: field `{section}.{key}`: {msg}")).into()
        };
        if let Some(b) = &spec.build {
            if !dir.join(&b.dockerfile).is_file() {
                return Err(in_section(
                    "build",
                    "dockerfile",
                    format!(
                        "{} does not exist; the path is relative to the profile file",
                        dir.join(&b.dockerfile).display()
                    ),
                ));
            }
            if let Some(c) = &b.context {
                if !dir.join(c).is_dir() {
                    return Err(in_section(
                        "build",
                        "context",
                        format!(
                            "{} is not a directory; the path is relative to the profile file",
                            dir.join(c).display()
                        ),
                    ));
                }
            }
        }
        let mut suppressions_dir = None;
        if let Some(w) = &spec.wrap {
            if w.argv.is_empty() || w.argv[0].trim().is_empty() {
                return Err(in_section(
                    "wrap",
                    "argv",
                    "must name the target's command, e.g. [\"/usr/local/bin/gateway\"]".into(),
                ));
            }
            if w.image.trim().is_empty() {
                return Err(in_section("wrap", "image", "must not be empty".into()));
            }
            for k in w.env.keys() {
                check_env_name(k).map_err(|m| in_section("wrap", "env", m))?;
            }
            if let Some(d) = &w.dockerfile {
                let f = dir.join(d);
                if !f.is_file() {
                    return Err(in_section(
                        "wrap",
                        "dockerfile",
                        format!(
                            "{} does not exist; the path is relative to the profile file",
                            f.display()
                        ),
                    ));
                }
            }
            if w.ready_timeout.0 < Duration::from_secs(1) || w.stop_grace.0 < Duration::from_secs(1)
            {
                return Err(in_section(
                    "wrap",
                    "stop_grace",
                    "ready_timeout and stop_grace must be at least 1s".into(),
                ));
            }
            if let Some(d) = &w.memcheck.suppressions {
                let p = dir.join(d);
                if !p.is_dir() {
                    return Err(in_section(
                        "memcheck",
                        "suppressions",
                        format!(
                            "{} is not a directory; give a directory of valgrind *.supp files, relative to the profile file",
                            p.display()
                        ),
                    ));
                }
                let p = p
                    .canonicalize()
                    .with_context(|| format!("resolve {}", p.display()))?;
                if p.to_string_lossy().contains(':') {
                    return Err(in_section(
                        "memcheck",
                        "suppressions",
                        "the path must not contain `:` (it is bind-mounted)".into(),
                    ));
                }
                suppressions_dir = Some(p);
            }
        }
        if let Some(c) = &spec.churn {
            let execs = usize::from(c.create.exec.is_some()) + usize::from(c.delete.exec.is_some());
            if execs == 1 {
                return Err(in_section(
                    "churn",
                    if c.create.exec.is_some() {
                        "delete"
                    } else {
                        "create"
                    },
                    "create and delete must both be HTTP requests or both `exec` commands".into(),
                ));
            }
            if execs == 0 && c.port.is_none() {
                return Err(in_section(
                    "churn",
                    "port",
                    "HTTP churn needs the container `port` of its requests".into(),
                ));
            }
            for (key, r) in [("create", &c.create), ("delete", &c.delete)] {
                if let Some(argv) = &r.exec {
                    if argv.is_empty() || argv[0].trim().is_empty() {
                        return Err(in_section(
                            "churn",
                            key,
                            "`exec` must be a command as an argv list".into(),
                        ));
                    }
                    if !r.method.is_empty()
                        || !r.path.is_empty()
                        || r.id.is_some()
                        || r.body.is_some()
                    {
                        return Err(in_section(
                            "churn",
                            key,
                            "an `exec` request has no method, path, id or body".into(),
                        ));
                    }
                }
            }
            for (key, r, want) in [
                ("create", &c.create, "POST"),
                ("delete", &c.delete, "DELETE"),
            ]
            .into_iter()
            .filter(|_| execs == 0)
            {
                const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
                if !METHODS.contains(&r.method.as_str()) {
                    return Err(in_section(
                        "churn",
                        key,
                        format!(
                            "method `{}` is not one of {} (usually {want})",
                            r.method,
                            METHODS.join(", ")
                        ),
                    ));
                }
                if !r.path.starts_with('/') {
                    return Err(in_section(
                        "churn",
                        key,
                        format!("path `{}` must start with /", r.path),
                    ));
                }
            }
            if c.delete.path.contains("{id}") {
                match &c.create.id {
                    Some(p) if p.starts_with('/') => {}
                    Some(p) => {
                        return Err(in_section(
                            "churn",
                            "create",
                            format!("id `{p}` is not a JSON pointer; write e.g. /id"),
                        ))
                    }
                    None => {
                        return Err(in_section(
                            "churn",
                            "create",
                            "the delete path uses {id}: give `id:`, the JSON pointer to the new object's id in the create response (e.g. /id)".into(),
                        ))
                    }
                }
            }
            if c.delete.id.is_some() {
                return Err(in_section(
                    "churn",
                    "delete",
                    "`id` belongs to `create` (where the id is read from)".into(),
                ));
            }
            for k in c.env.keys() {
                check_env_name(k).map_err(|m| in_section("churn", "env", m))?;
            }
            if !(1..=100_000).contains(&c.batch) {
                return Err(in_section(
                    "churn",
                    "batch",
                    "must be between 1 and 100000".into(),
                ));
            }
            use crate::results::MetricKind as M;
            for (i, m) in c.metrics.iter().enumerate() {
                if !M::SAMPLED.contains(m) {
                    return Err(in_section(
                        "churn",
                        "metrics",
                        format!(
                            "`{}` is not read per cycle; use any of {}",
                            m.name(),
                            M::names(&M::SAMPLED)
                        ),
                    ));
                }
                if c.metrics[..i].contains(m) {
                    return Err(in_section(
                        "churn",
                        "metrics",
                        format!("`{}` is listed twice", m.name()),
                    ));
                }
            }
            if !(c.floor_bytes_per_cycle.is_finite() && c.floor_bytes_per_cycle >= 0.0) {
                return Err(in_section(
                    "churn",
                    "floor_bytes_per_cycle",
                    "must be a non-negative number".into(),
                ));
            }
        }
        let compose_file = compose_file
            .canonicalize()
            .with_context(|| format!("resolve {}", compose_file.display()))?;
        Ok(Profile {
            hash: sha256_hex(text.as_bytes()),
            path: path.to_path_buf(),
            compose_file,
            compose_services,
            spec,
            suppressions_dir,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The container ports the harness must reach from the host.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.spec.ready.port().into_iter().collect();
        let checks = self
            .spec
            .entities
            .iter()
            .filter_map(|e| e.check.as_ref())
            .chain(self.spec.knobs.values().filter_map(|k| k.check.as_ref()));
        ports.extend(checks.filter_map(CheckSpec::port));
        ports.extend(
            self.spec
                .entities
                .iter()
                .filter_map(|e| e.memcached.as_ref().map(|m| m.port)),
        );
        ports.extend(self.spec.load.iter().map(|l| l.port));
        ports.extend(self.spec.fault.iter().filter_map(|f| match &f.action {
            FaultAction::Http(h) => Some(h.port),
            _ => None,
        }));
        ports.extend(
            self.spec
                .fault
                .iter()
                .filter_map(|f| f.client_probe(&self.spec.ready).map(|(p, _)| p)),
        );
        ports.extend(self.spec.churn.iter().filter_map(|c| c.port));
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

fn check_env_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

/// Names of the profiles shipped in `profiles/`.
pub fn list_names(repo_root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root.join("profiles"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// Service names declared in a compose file.
pub fn compose_service_names(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
        BadInput(format!(
            "{}: not valid YAML: {e}; fix the compose file",
            file.display()
        ))
    })?;
    let services = doc
        .get("services")
        .and_then(|s| s.as_mapping())
        .ok_or_else(|| {
            BadInput(format!(
                "{}: no `services:` mapping; runcost needs a compose file that declares services",
                file.display()
            ))
        })?;
    Ok(services
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect())
}

/// 1-based line of the first `key:` in a YAML text, to point errors at it.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let needle = format!("{key}:");
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with(&needle)
                || t.contains(&format!(" {needle}"))
                || t.contains(&format!("{{{needle}"))
        })
        .map(|i| i + 1)
}

/// 1-based line of `key:` inside the block that starts at `section:` (the
/// first one), so an error about `churn.path` points at the churn section.
fn line_in_section(text: &str, section: &str, key: &str) -> Option<usize> {
    let start = line_of(text, section)?;
    let rest: String = text.lines().skip(start - 1).collect::<Vec<_>>().join("\n");
    line_of(&rest, key).map(|l| l + start - 1).or(Some(start))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path, profile: &str) -> Result<Profile> {
        std::fs::write(
            dir.join("app.yml"),
            "services:\n  app:\n    image: x\n  db:\n    image: y\n",
        )
        .unwrap();
        let p = dir.join("p.yaml");
        std::fs::write(&p, profile).unwrap();
        Profile::load(&p)
    }

    const GOOD: &str =
        "name: t\ncompose: app.yml\nservice: app\nready: { http: { port: 8080, path: /health } }\n";

    #[test]
    fn good_profile_loads_with_defaults() {
        let d = tempfile::tempdir().unwrap();
        let p = fixture(d.path(), GOOD).unwrap();
        assert_eq!(p.compose_services, vec!["app", "db"]);
        assert_eq!(p.spec.ready.timeout.0, Duration::from_secs(60));
        assert_eq!(p.ports(), vec![8080]);
        assert_eq!(p.hash.len(), 64);
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let d = tempfile::tempdir().unwrap();
        let text = format!("{GOOD}colour: blue\n");
        let e = fixture(d.path(), &text).unwrap_err();
        let msg = format!("{e:#}");
        assert!(e.downcast_ref::<BadInput>().is_some());
        assert!(msg.contains("p.yaml:5"), "{msg}");
        assert!(msg.contains("unknown field `colour`"), "{msg}");
    }

    #[test]
    fn wrong_type_names_the_nested_field() {
        let d = tempfile::tempdir().unwrap();
        let text = GOOD.replace("port: 8080", "port: eighty");
        let msg = format!("{:#}", fixture(d.path(), &text).unwrap_err());
        assert!(msg.contains("ready.http.port"), "{msg}");
        assert!(msg.contains("p.yaml:4"), "{msg}");
    }

    #[test]
    fn missing_service_lists_the_declared_ones() {
        let d = tempfile::tempdir().unwrap();
        let text = GOOD.replace("service: app", "service: web");
        let msg = format!("{:#}", fixture(d.path(), &text).unwrap_err());
        assert!(msg.contains("p.yaml:3: field `service`"), "{msg}");
        assert!(msg.contains("declares: app, db"), "{msg}");
    }

    #[test]
    fn process_is_one_name_or_a_list() {
        let d = tempfile::tempdir().unwrap();
        let one = fixture(d.path(), &format!("{GOOD}process: app\n")).unwrap();
        assert_eq!(one.process_names(), ["app"]);
        let two = fixture(d.path(), &format!("{GOOD}process: [nginx, php-fpm]\n")).unwrap();
        assert_eq!(two.process_names(), ["nginx", "php-fpm"]);
        assert!(fixture(d.path(), GOOD).unwrap().process_names().is_empty());
        for (bad, says) in [
            ("process: []", "empty list"),
            ("process: [a, a]", "`a` is listed twice"),
            ("process: [a, averyveryverylongname]", "1 to 15 characters"),
        ] {
            let msg = format!(
                "{:#}",
                fixture(d.path(), &format!("{GOOD}{bad}\n")).unwrap_err()
            );
            assert!(
                msg.contains("`process`") && msg.contains(says),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn missing_compose_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        let text = GOOD.replace("app.yml", "nope.yml");
        let msg = format!("{:#}", fixture(d.path(), &text).unwrap_err());
        assert!(msg.contains("nope.yml does not exist"), "{msg}");
    }

    #[test]
    fn wrap_and_churn_sections_load_and_are_checked() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("supp")).unwrap();
        let good = format!(
            "{GOOD}wrap:\n  argv: [/bin/app, --flag]\n  image: app-tools\n  \
             memcheck: {{ threshold_bytes: 16, suppressions: supp }}\n\
             churn:\n  port: 9000\n  create: {{ method: POST, path: /e, id: /id }}\n  \
             delete: {{ method: DELETE, path: '/e/{{id}}' }}\n"
        );
        let p = fixture(d.path(), &good).unwrap();
        let w = p.spec.wrap.as_ref().unwrap();
        assert_eq!(w.argv, ["/bin/app", "--flag"]);
        assert_eq!(w.heap.threshold_bytes, 64 * 1024, "default");
        assert_eq!(w.stop_grace.0, Duration::from_secs(60), "default");
        assert_eq!(w.memcheck.threshold_bytes, 16);
        assert!(p.suppressions_dir.as_ref().unwrap().ends_with("supp"));
        assert_eq!(p.ports(), vec![8080, 9000], "the churn port is published");
        assert_eq!(p.spec.churn.as_ref().unwrap().batch, 10);

        let refused = |text: String, want: &[&str]| {
            let msg = format!("{:#}", fixture(d.path(), &text).unwrap_err());
            for w in want {
                assert!(msg.contains(w), "{w} in {msg}");
            }
        };
        refused(
            good.replace("[/bin/app, --flag]", "[]"),
            &["p.yaml:6", "`wrap.argv`", "must name"],
        );
        refused(
            good.replace("suppressions: supp", "suppressions: nope"),
            &["`memcheck.suppressions`", "not a directory"],
        );
        refused(
            good.replace(", id: /id", ""),
            &["p.yaml:11", "`churn.create`", "{id}"],
        );
        refused(
            good.replace("method: DELETE", "method: ERASE"),
            &["p.yaml:12", "`churn.delete`", "ERASE"],
        );
        refused(
            good.replace("image: app-tools", "image: app-tools\n  colour: red"),
            &["p.yaml:8", "unknown field `colour`"],
        );
    }

    #[test]
    fn byte_fields_take_sizes_or_integers() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("supp")).unwrap();
        let with = |memcheck: &str| {
            format!(
                "{GOOD}wrap:\n  argv: [/bin/app]\n  image: app-tools\n  \
                 heap: {{ threshold_bytes: 4MiB }}\n  memcheck: {{ threshold_bytes: {memcheck} }}\n"
            )
        };
        let p = fixture(d.path(), &with("1.5 KiB")).unwrap();
        let w = p.spec.wrap.as_ref().unwrap();
        assert_eq!(w.heap.threshold_bytes, 4 << 20);
        assert_eq!(w.memcheck.threshold_bytes, 1536);
        let p = fixture(d.path(), &with("16")).unwrap();
        assert_eq!(p.spec.wrap.as_ref().unwrap().memcheck.threshold_bytes, 16);
        let msg = format!("{:#}", fixture(d.path(), &with("16 parsecs")).unwrap_err());
        assert!(
            msg.contains("unknown size unit `parsecs`") && msg.contains("MiB"),
            "{msg}"
        );
    }

    #[test]
    fn bad_env_name_and_pointer_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let text = format!("{GOOD}entities: {{ env: 'A B' }}\n");
        assert!(format!("{:#}", fixture(d.path(), &text).unwrap_err()).contains("`A B`"));
        let text = format!(
            "{GOOD}entities: {{ env: N, check: {{ http: {{ port: 1 }}, json: entities }} }}\n"
        );
        assert!(
            format!("{:#}", fixture(d.path(), &text).unwrap_err()).contains("not a JSON pointer")
        );
    }

    #[test]
    fn ready_entities_and_checks_of_every_kind() {
        let d = tempfile::tempdir().unwrap();
        let head = "name: t\ncompose: app.yml\nservice: app\n";
        let p = fixture(
            d.path(),
            &format!(
                "{head}ready: {{ tcp: 11211 }}\nentities:\n  memcached: {{ port: 11211 }}\n  \
                 check: {{ memcached: {{ port: 11211, stat: curr_items }} }}\n  default: 5\n"
            ),
        )
        .unwrap();
        assert!(matches!(p.spec.ready.probe(), ReadyProbe::Tcp(11211)));
        let e = p.spec.entities.as_ref().unwrap();
        assert!(matches!(e.setter(), EntitySetter::Memcached(m) if m.value_bytes == 100));
        assert_eq!(p.ports(), vec![11211]);
        let p = fixture(
            d.path(),
            &format!(
                "{head}ready: {{ exec: [redis-cli, ping] }}\nentities:\n  exec: [redis-cli, DEBUG, POPULATE, '{{n}}']\n  \
                 check: {{ exec: [redis-cli, DBSIZE] }}\n  metric: pss_anon\n"
            ),
        )
        .unwrap();
        assert!(p.ports().is_empty(), "an exec probe publishes nothing");
        let check = p.spec.entities.as_ref().unwrap().check.as_ref().unwrap();
        assert!(matches!(check.kind(), CheckKind::Exec(a) if a[1] == "DBSIZE"));

        let refused = |text: String, want: &[&str]| {
            let msg = format!("{:#}", fixture(d.path(), &text).unwrap_err());
            for w in want {
                assert!(msg.contains(w), "{w} in {msg}");
            }
        };
        refused(
            format!("{head}ready: {{ tcp: 1, exec: [x] }}\n"),
            &["`ready`", "one readiness probe"],
        );
        refused(format!("{head}ready: {{}}\n"), &["one readiness probe"]);
        refused(
            format!("{GOOD}entities: {{ env: N, exec: [x, '{{n}}'] }}\n"),
            &["`entities`", "one way"],
        );
        refused(
            format!("{GOOD}entities: {{ exec: [redis-cli, DEBUG, POPULATE] }}\n"),
            &["`exec`", "{n}"],
        );
        refused(
            format!("{GOOD}entities: {{ env: N, default: 3 }}\n"),
            &["`default`", "env.N"],
        );
        refused(
            format!("{GOOD}entities: {{ env: N, check: {{ exec: [a], json: /x }} }}\n"),
            &["`json`", "http"],
        );
        refused(
            format!("{GOOD}entities: {{ env: N, check: {{ http: {{ port: 1 }} }} }}\n"),
            &["`check`", "needs `json`"],
        );
        refused(
            format!("{GOOD}entities: {{ env: N, metric: threads }}\n"),
            &[
                "`metric`",
                "memory metric",
                "cgroup_shmem_file",
                "group_unique",
            ],
        );
        refused(
            format!("{GOOD}churn:\n  port: 1\n  create: {{ method: POST, path: /x }}\n  delete: {{ method: DELETE, path: /x }}\n  metrics: [fds, throughput]\n"),
            &["`churn.metrics`", "throughput", "cgroup_shmem_file"],
        );
        refused(
            format!("{GOOD}churn:\n  port: 1\n  create: {{ method: POST, path: /x }}\n  delete: {{ method: DELETE, path: /x }}\n  metrics: [fds, fds]\n"),
            &["`churn.metrics`", "twice"],
        );
        refused(
            format!("{GOOD}churn:\n  create: {{ exec: [a] }}\n  delete: {{ method: DELETE, path: /x }}\n"),
            &["`churn.delete`", "both"],
        );
        refused(
            format!("{GOOD}churn:\n  create: {{ method: POST, path: /x }}\n  delete: {{ method: DELETE, path: /x }}\n"),
            &["`churn.port`", "port"],
        );
    }
}
