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
    let text =
        format!("{GOOD}entities: {{ env: N, check: {{ http: {{ port: 1 }}, json: entities }} }}\n");
    assert!(format!("{:#}", fixture(d.path(), &text).unwrap_err()).contains("not a JSON pointer"));
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
        format!(
            "{GOOD}churn:\n  create: {{ exec: [a] }}\n  delete: {{ method: DELETE, path: /x }}\n"
        ),
        &["`churn.delete`", "both"],
    );
    refused(
        format!("{GOOD}churn:\n  create: {{ method: POST, path: /x }}\n  delete: {{ method: DELETE, path: /x }}\n"),
        &["`churn.port`", "port"],
    );
}
