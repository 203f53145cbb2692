//! A hand-built run record with every lane kind and every finding kind, every
//! optional part filled, for tests of the record's file format.

use super::boxes::*;
use super::fault::*;
use super::leaks::*;
use super::*;
use runcost_leakparse::{Amount, KindCount, LeakSummary};
use runcost_loadgen::{LagSummary, LatencySummary, LoadResult, PercentilePoint, ScheduleStats};
use runcost_stats::density::Breakpoint;
use runcost_stats::interval::Interval;
use runcost_stats::leak::{ChurnLeakTest, LeakVerdict};
use runcost_stats::powerlaw::{
    FallingFit, GrowthTest, NoiseModel, PowerLawFit, ScalingOutcome, ScalingVerdict,
};
use runcost_stats::regression::{NoiseResiduals, SlopeCiMethod, SlopeInterval};

const LANES: [LaneKind; 17] = [
    LaneKind::Footprint,
    LaneKind::Scaling,
    LaneKind::Sweep,
    LaneKind::Load,
    LaneKind::Heap,
    LaneKind::Memcheck,
    LaneKind::Churn,
    LaneKind::Fault,
    LaneKind::BoxLifecycle,
    LaneKind::BoxExec,
    LaneKind::BoxDensity,
    LaneKind::BoxChurn,
    LaneKind::BoxSnapshot,
    LaneKind::BoxStability,
    LaneKind::BoxBurst,
    LaneKind::BoxResource,
    LaneKind::BoxThroughput,
];

fn interval(lower: f64, upper: f64) -> Interval {
    Interval {
        lower,
        upper,
        level: 0.95,
    }
}

fn slope(s: f64) -> SlopeInterval {
    SlopeInterval {
        n: 40,
        n_eff: 12.5,
        r1: 0.4,
        slope: s,
        intercept: 1e6,
        se: 2.0,
        df: 10.5,
        ci: interval(s - 4.0, s + 4.0),
        method: SlopeCiMethod::Ar1EffectiveN,
        noise_residuals: NoiseResiduals::Linear,
    }
}

fn churn_test() -> ChurnLeakTest {
    ChurnLeakTest {
        churn: slope(3.0),
        reference: slope(1.0),
        excess_slope: 2.0,
        slope_floor: 16384.0,
        verdict: LeakVerdict::NoLeak,
    }
}

fn recovery() -> Recovery {
    Recovery {
        baseline: 7e7,
        peak_delta: 1.5e6,
        peak_after_s: 0.8,
        recovered_after_s: Some(2.5),
        left_band: true,
        retained: 1024.0,
        band: 3.5e6,
    }
}

fn site(kind: Option<&str>) -> SiteRow {
    SiteRow {
        site: "gateway::cache::insert".into(),
        location: Some("src/cache.rs:42".into()),
        bytes: Some(4096),
        count: Some(16),
        kind: kind.map(str::to_string),
        stack: vec!["gateway::handle".into(), "tokio::runtime::task".into()],
    }
}

fn exit() -> TargetExit {
    TargetExit {
        exit_code: 0,
        stop_s: 0.4,
        how: "exited 0 after SIGTERM".into(),
    }
}

fn power_law() -> PowerLawFit {
    PowerLawFit {
        a: 6e7,
        b: 1200.0,
        k: 1.02,
        k_ci: interval(0.95, 1.08),
        k_ci_lower_clipped: false,
        k_ci_upper_clipped: true,
        points_used: 15,
        distinct_sizes: 5,
        rss: 3.2e9,
        residual_df: 12,
        noise: NoiseModel::Relative,
        verdict: ScalingVerdict::Linear,
        fits_at_ci: Some([(6.1e7, 1500.0), (5.9e7, 900.0)]),
        growth: Some(growth()),
    }
}

fn quantiles() -> Quantiles {
    Quantiles::of(&[0.010, 0.012, 0.011, 0.013, 0.02]).expect("five samples")
}

fn load() -> LoadResult {
    let lag = LagSummary {
        count: 1000,
        p50_us: 40,
        p99_us: 300,
        max_us: 900,
    };
    LoadResult {
        mode: "open".into(),
        protocol: "http".into(),
        pipeline: 1,
        mismatches: 0,
        protocol_errors: 0,
        connections: 8,
        intended_rate_per_s: Some(200.0),
        achieved_rate_per_s: 199.5,
        duration_s: 10.0,
        warmup_s: 2.0,
        timeout_s: 5.0,
        wall_s: 12.1,
        requests_sent: 2000,
        requests_completed: 1998,
        ok: 1990,
        non_2xx: 8,
        status_counts: [(200, 1990), (503, 8)].into(),
        timeouts: 1,
        io_errors: 1,
        connect_errors: 0,
        dropped: 0,
        warmup_requests: 400,
        warmup_errors: 0,
        bytes_received: 1 << 20,
        throughput_ok_per_s: 199.0,
        latency_valid: true,
        latency: LatencySummary {
            count: 1990,
            min_us: 300,
            mean_us: 1200.5,
            stdev_us: 400.25,
            p50_us: 1100,
            p90_us: 1800,
            p99_us: 3000,
            p999_us: 5000,
            max_us: 7000,
        },
        latency_percentiles: vec![PercentilePoint {
            percentile: 50.0,
            value_us: 1100,
            count: 995,
        }],
        schedule: Some(ScheduleStats {
            send_lag: lag,
            timer_lag: lag,
            queued: 3,
            peak_backlog: 2,
            backlog_limit: 1000,
            lag_limit_us: 10_000,
        }),
        kept_up: true,
        generator_cpu_s: 0.8,
        peak_rss_kib: Some(20_000),
        histogram: None,
    }
}

fn cell(lane: LaneKind, status: CellStatus) -> CellRecord {
    CellRecord {
        id: format!("{lane}-r0"),
        repeat: 0,
        params: [("entities".to_string(), "100".to_string())].into(),
        status,
        error: (status == CellStatus::Failed).then(|| "the target died (exit code 137)".into()),
        container: Some("c0ffee".into()),
        image: Some(("runcost/gateway:dev".into(), "sha256:0123".into())),
        ready_s: Some(1.2),
        steady_after_s: Some(3.0),
        window: Some((4.2, 14.2)),
        sampler_mode: SamplerMode::Exec,
        sampler: Some(TickerStats {
            target_hz: 10.0,
            achieved_hz: 9.9,
            samples: 130,
            missed_ticks: 1,
            failed_reads: 1,
            vanished: 2,
            thread_cpu_s: 0.013,
            wall_s: 13.0,
            mean_read_s: 1e-4,
            last_error: Some("read /proc/1/smaps_rollup: gone".into()),
            unavailable: Default::default(),
        }),
        samples_csv: Some(format!("samples/{lane}-r0.csv")),
        metrics: vec![CellMetric {
            metric: MetricKind::Uss,
            value: 7e7,
            ci: Some((6.9e7, 7.1e7)),
            n: 100,
            n_eff: 40.0,
            lag1: Some(0.42),
        }],
        load: (lane == LaneKind::Load).then(load),
        hold: if lane == LaneKind::Scaling {
            vec![held()]
        } else {
            Vec::new()
        },
        tool: None,
        attribution: (status == CellStatus::Ok).then(attribution),
    }
}

fn held() -> runcost_loadgen::HoldRecord {
    let counts = runcost_loadgen::HoldCounts {
        open: 100,
        opened: 100,
        drops: 0,
        connect_errors: 0,
        rejected: 0,
        bytes: 4_000,
    };
    runcost_loadgen::HoldRecord {
        requested: 100,
        request: "GET /events".into(),
        open_after_s: 0.4,
        at_start: counts,
        at_end: runcost_loadgen::HoldCounts {
            bytes: 9_000,
            ..counts
        },
        last_error: None,
    }
}

fn heap() -> Finding {
    Finding::Heap(Box::new(HeapFinding {
        cell: "heap-r0".into(),
        verdict: LeakVerdict::Leak,
        threshold_bytes: 1 << 20,
        leaked_bytes: Some(2 << 20),
        total_allocations: Some(10_000),
        temporary_allocations: Some(2_000),
        peak_heap_bytes: Some(8 << 20),
        peak_rss_bytes: Some(30 << 20),
        runtime_s: Some(12.5),
        leaks: vec![site(None)],
        peak: vec![site(None)],
        allocations: vec![site(None)],
        temporary: vec![site(None)],
        overhead: Some(HeapOverhead {
            plain_peak_rss: 20 << 20,
            heaptrack_peak_rss: 30 << 20,
            plain_mean_rss: 19.5e6,
            heaptrack_mean_rss: 29.5e6,
        }),
        exit: exit(),
        files: vec!["heap/heaptrack.gateway.zst".into()],
        warnings: vec!["line 7: unknown section".into()],
    }))
}

fn memcheck() -> Finding {
    let amount = Amount {
        bytes: 64,
        blocks: 1,
        records: 1,
    };
    Finding::Memcheck(Box::new(MemcheckFinding {
        cell: "memcheck-r0".into(),
        verdict: LeakVerdict::Inconclusive,
        threshold_bytes: 0,
        leaks: LeakSummary {
            definitely_lost: amount,
            indirectly_lost: amount,
            possibly_lost: amount,
            still_reachable: Amount::default(),
        },
        errors: [(
            "InvalidRead".to_string(),
            KindCount {
                contexts: 1,
                occurrences: 3,
            },
        )]
        .into(),
        top_leaks: vec![site(Some("Leak_DefinitelyLost"))],
        top_errors: vec![site(Some("InvalidRead"))],
        suppressions: vec!["default.supp".into()],
        suppressions_used: [("glibc-tls".to_string(), 2)].into(),
        valgrind_version: Some("3.19.0".into()),
        exit: exit(),
        files: vec!["memcheck/valgrind.xml".into()],
        warnings: vec![],
    }))
}

fn churn() -> Finding {
    Finding::Churn(Box::new(ChurnFinding {
        verdict: LeakVerdict::NoLeak,
        cycles: 50,
        warmup_cycles: 5,
        batch: 100,
        cycle_s: 0.3,
        metrics: vec![super::leaks::ChurnMetric {
            metric: MetricKind::PssAnon,
            test: churn_test(),
        }],
        memory_metric: MetricKind::PssAnon,
        churn_memory: vec![(1.0, 7e7), (2.0, 7.01e7)],
        static_memory: vec![(1.0, 7e7), (2.0, 7e7)],
    }))
}

fn fault() -> Finding {
    Finding::Fault(Box::new(FaultFinding {
        action: "restart".into(),
        burst: 20,
        band_frac: 0.05,
        repeats: vec![FaultRepeat {
            cell: "fault-r0".into(),
            burst: (10.0, 12.0),
            uss: Some(recovery()),
            rss: Some(recovery()),
            cpu: None,
            cgroup_mem: Some(recovery()),
            cgroup_cpu: Some(recovery()),
            procs_min: Some(1),
            procs_max: Some(3),
            probe: ProbeStats {
                rate_per_s: 20.0,
                sent: 400,
                ok: 390,
                errors: 10,
                longest_gap_s: Some(1.5),
                gap_started_at: Some(10.2),
                p50_before_ms: Some(1.1),
                p50_during_ms: Some(9.0),
                p50_after_ms: Some(1.2),
                answers_csv: Some("samples/fault-r0-answers.csv".into()),
            },
            died_at: None,
            sample_gap_s: Some(0.3),
            processes: vec![ProcessRecovery {
                name: "gateway".into(),
                uss: Some(recovery()),
                cpu: Some(recovery()),
                samples_csv: Some("samples/fault-r0-gateway.csv".into()),
            }],
        }],
        verdict: RetainVerdict::Recovered,
    }))
}

fn box_env() -> BoxEnv {
    BoxEnv {
        backend: BackendKind::Qemu,
        spec: BoxSpec {
            memory_mib: 256,
            vcpus: 1,
        },
        accel: Some(Accel::Tcg),
        accel_probe: Some(AccelProbe {
            accel: Accel::Tcg,
            choice: AccelChoice::Auto,
            reason: "KVM did not boot the guest within 20 s".into(),
            cached: true,
        }),
        transport: Some(Transport::Virtio),
        qemu_version: Some("7.2.0".into()),
        kernel_version: Some("6.1.0-13-amd64".into()),
        kernel_format: Some("bzImage".into()),
        image: None,
        profile: None,
        runtime: None,
        counted: None,
        failed: None,
    }
}

fn boxes(lane: BoxLane) -> Finding {
    let mut f = BoxFinding {
        lane,
        env: box_env(),
        lifecycle: None,
        exec: None,
        density: None,
        churn: None,
        snapshot: None,
        stability: None,
        burst: None,
        resource: None,
        throughput: None,
    };
    match lane {
        BoxLane::Lifecycle => {
            f.lifecycle = Some(LifecycleResult {
                samples: vec![LifecycleSample {
                    create_s: 0.01,
                    ready_s: 1.5,
                    first_exec_s: 1.6,
                    guest_uptime_s: Some(1.2),
                    stop_s: 0.2,
                    remove_s: 0.01,
                }],
                cold_start: Some(quantiles()),
                ready: Some(quantiles()),
                stop: Some(quantiles()),
                remove: Some(quantiles()),
            })
        }
        BoxLane::Exec => {
            f.exec = Some(ExecResult {
                warmup: 5,
                trivial: vec![0.001, 0.0012],
                trivial_q: Some(quantiles()),
                large: vec![0.05],
                large_q: Some(quantiles()),
                large_bytes: 1 << 20,
            })
        }
        BoxLane::Density => {
            f.density = Some(DensityResult {
                levels: vec![DensityLevel {
                    level: 1,
                    exec: vec![0.001],
                    exec_q: Some(quantiles()),
                    pss_total_bytes: 90 << 20,
                    pss_per_box_bytes: 9.4e7,
                    boot_s: vec![1.5],
                }],
                rounds_per_level: vec![20],
                breakpoint: Some(Breakpoint {
                    baseline: 0.001,
                    limit: 0.002,
                    factor: 2.0,
                    level: 4,
                    exceeded: vec![8],
                    crosses_back: false,
                    monotonic: true,
                    ratios: vec![(1, 1.0), (8, 2.5)],
                }),
                breakpoint_note: Some("level 16 had no samples".into()),
                mem_available_bytes: 20 << 30,
                capacity_by_memory: Some(200),
            })
        }
        BoxLane::Churn => {
            f.churn = Some(BoxChurnResult {
                cycles: 30,
                cycle_s: vec![1.6, 1.7],
                series: vec![ChurnSeries {
                    metric: super::boxes::ChurnMetric::KernelSlab,
                    churn: vec![1e6, 1.01e6],
                    reference: vec![1e6, 1e6],
                    test: Some(churn_test()),
                    note: Some("2 cycles: too few for a verdict".into()),
                }],
                verdict: LeakVerdict::Inconclusive,
                leftover_boxes: 0,
            })
        }
        BoxLane::Snapshot => {
            let sample = SnapshotSample {
                iteration: 0,
                mode: SnapshotMode::Live,
                caller_s: 0.6,
                reported_pause_s: Some(0.005),
                total_s: 0.5,
                host_gap_s: Some(0.02),
                pings: 40,
                guest_gap_s: Some(0.004),
                ticks: 600,
                bytes: 30 << 20,
                write_bytes_per_s: 6e7,
                at_s: 0.0,
                host_gaps: vec![[0.01, 0.002], [0.3, 0.02]],
                guest_gaps: vec![[-0.1, 0.001], [0.3, 0.004]],
            };
            f.snapshot = Some(SnapshotResult {
                skipped: None,
                iterations: 1,
                held_mib: 0,
                tick_us: 1000,
                samples: vec![sample],
                modes: vec![SnapshotModeSummary {
                    mode: SnapshotMode::Live,
                    reported_pause: Some(quantiles()),
                    host_gap: Some(quantiles()),
                    guest_gap: Some(quantiles()),
                    caller: Some(quantiles()),
                    total: Some(quantiles()),
                    bytes: 30 << 20,
                    write_bytes_per_s: 6e7,
                }],
                restore_s: vec![0.4],
                restore: Some(quantiles()),
                forks: vec![ForkSample {
                    clone_s: 0.4,
                    pss_bytes: 40 << 20,
                }],
                fork: Some(quantiles()),
                background_skipped: Some("QMP migrate-set-capabilities: not here".into()),
                fork_skipped: Some("not for this runtime".into()),
                source_pss_bytes: 60 << 20,
                fork_snapshot_bytes: 30 << 20,
                state_verified: 2,
                files_left: 0,
            })
        }
        BoxLane::Stability => {
            use super::boxaxes::*;
            let loop_s = vec![0.004, 0.005, 0.004];
            f.stability = Some(StabilityResult {
                exec_q: Quantiles::of(&loop_s),
                exec_loop: loop_s,
                drift: Some(runcost_stats::DriftTest {
                    n: 500,
                    median: 0.004,
                    slope: 1e-8,
                    slope_lower: -2e-8,
                    slope_upper: 4e-8,
                    level: 0.95,
                    n_eff: 410.0,
                    mk_p_value: 0.6,
                    slope_floor: 8e-7,
                    relative_rise: 0.001,
                    verdict: runcost_stats::DriftVerdict::Stable,
                }),
                drift_note: None,
                drift_rel_floor: 0.1,
                parallel: 20,
                parallel_rounds: 1,
                parallel_mode: ParallelMode::Queued,
                parallel_s: vec![0.01, 0.09],
                parallel_q: Quantiles::of(&[0.01, 0.09]),
                restarts: 2,
                restart_s: vec![2.1],
                restart_q: Quantiles::of(&[2.1]),
                restart_skipped: Some("runc-cli: cannot start a stopped box".into()),
                deaths: vec![BoxDeath {
                    section: AxisSection::RestartLoop,
                    index: 1,
                    cause: "box st1 not ready within 60 s".into(),
                }],
                soak: Some(SoakResult {
                    duration_s: 120.0,
                    ran_s: 120.0,
                    exec_period_s: 0.1,
                    command: vec!["true".into()],
                    sample_period_s: 1.0,
                    warmup_s: 24.0,
                    planted_leak_bytes_per_s: None,
                    host_processes: 2,
                    samples: vec![
                        PssSample {
                            t_s: 0.0,
                            pss_bytes: 9 << 20,
                        },
                        PssSample {
                            t_s: 1.0,
                            pss_bytes: 9 << 20,
                        },
                    ],
                    exec_s: vec![0.03, 0.04],
                    exec_q: Quantiles::of(&[0.03, 0.04]),
                    test: Some(SoakTest {
                        n: 96,
                        fit_from_s: 24.0,
                        fit_span_s: 95.0,
                        slope: 12.0,
                        slope_lower: -300.0,
                        slope_upper: 320.0,
                        level: 0.95,
                        n_eff: 40.0,
                        theil_sen_slope: 0.0,
                        mk_p_value: 0.7,
                        slope_floor: 17476.3,
                        verdict: runcost_stats::LeakVerdict::NoLeak,
                    }),
                    note: None,
                }),
                soak_skipped: None,
            })
        }
        BoxLane::Burst => {
            use super::boxaxes::*;
            f.burst = Some(BurstResult {
                boxes: 4,
                single_s: vec![0.3],
                single_q: Quantiles::of(&[0.3]),
                burst_s: vec![0.5, 0.6, 0.7],
                burst_q: Quantiles::of(&[0.5, 0.6, 0.7]),
                burst_max_s: Some(0.7),
                burst_mean_s: Some(0.6),
                ratio_max: Some(2.33),
                ratio_mean: Some(2.0),
                deaths: vec![BoxDeath {
                    section: AxisSection::Burst,
                    index: 3,
                    cause: "start: out of memory".into(),
                }],
            })
        }
        BoxLane::Throughput => {
            f.throughput = Some(super::boxaxes::ThroughputResult {
                size_bytes: 64 << 20,
                repeats: 3,
                disk_target: "/dev/vda".into(),
                disk_method: "dd, O_DIRECT".into(),
                disk_limit_bps: None,
                write_bps: vec![90e6, 95e6, 93e6],
                read_bps: vec![200e6, 210e6, 190e6],
                disk_skipped: None,
                copy_path: "the VM agent's file protocol".into(),
                copy_in_bps: vec![40e6, 42e6, 41e6],
                copy_out_bps: vec![45e6, 44e6, 46e6],
                copy_skipped: None,
                tcp_bps: Vec::new(),
                tcp_skipped: Some("the qemu microVM has no NIC".into()),
                tcp_path: None,
            })
        }
        BoxLane::Resource => {
            f.resource = Some(super::boxaxes::ResourceResult {
                settle_s: 5.0,
                window_s: 5.0,
                host_processes: 3,
                idle_pss_bytes: 40 << 20,
                idle_rss_bytes: 48 << 20,
                idle_cores: 0.004,
                host_cpu_per_box_cpu: None,
                busy_note: Some("the CPU loop did not start: exit 127".into()),
                busy_pss_bytes: 41 << 20,
                idle_boxes: None,
                pressure: None,
            })
        }
    }
    Finding::Box(Box::new(f))
}

fn growth() -> GrowthTest {
    GrowthTest {
        n_smallest: 1000.0,
        n_largest: 100000.0,
        points_smallest: 3,
        points_largest: 3,
        mean_smallest: 3.06e7,
        mean_largest: 3.08e7,
        difference: 2.0e5,
        difference_ci: Interval {
            lower: -9.2e5,
            upper: 1.32e6,
            level: 0.95,
        },
        df: 3.8,
    }
}

fn findings(lane: LaneKind) -> Vec<Finding> {
    let scaling = |outcome| Finding::Scaling {
        metric: MetricKind::Uss,
        parameter: "entities".into(),
        points: 15,
        outcome,
    };
    match lane {
        LaneKind::Footprint | LaneKind::Sweep | LaneKind::Load => vec![],
        LaneKind::Scaling => vec![
            scaling(ScalingOutcome::Fit(power_law())),
            scaling(ScalingOutcome::NoGrowth(growth())),
            scaling(ScalingOutcome::NoFit(FallingFit {
                a: 3.1e7,
                b: -2.0e4,
                fitted_smallest: 3.1e7,
                fitted_largest: 3.05e7,
                n_smallest: 1000.0,
                n_largest: 100000.0,
                growth: Some(growth()),
            })),
            scaling(ScalingOutcome::NoVerdict {
                reason: "fewer than 3 sizes".into(),
            }),
            attribution_finding(),
        ],
        LaneKind::Heap => vec![heap()],
        LaneKind::Memcheck => vec![memcheck()],
        LaneKind::Churn => vec![churn()],
        LaneKind::Fault => vec![fault()],
        LaneKind::BoxLifecycle => vec![boxes(BoxLane::Lifecycle)],
        LaneKind::BoxExec => vec![boxes(BoxLane::Exec)],
        LaneKind::BoxDensity => vec![boxes(BoxLane::Density)],
        LaneKind::BoxChurn => vec![boxes(BoxLane::Churn)],
        LaneKind::BoxSnapshot => vec![boxes(BoxLane::Snapshot)],
        LaneKind::BoxStability => vec![boxes(BoxLane::Stability)],
        LaneKind::BoxBurst => vec![boxes(BoxLane::Burst)],
        LaneKind::BoxResource => vec![boxes(BoxLane::Resource)],
        LaneKind::BoxThroughput => vec![boxes(BoxLane::Throughput)],
    }
}

fn lane(lane: LaneKind) -> LaneRecord {
    LaneRecord {
        lane,
        cells: vec![
            cell(lane, CellStatus::Ok),
            cell(lane, CellStatus::NotSteady),
            cell(lane, CellStatus::Failed),
        ],
        aggregates: vec![Aggregate {
            metric: MetricKind::Throughput,
            unit: Unit::PerSecond,
            direction: Direction::HigherIsBetter,
            params: [("rate".to_string(), "200".to_string())].into(),
            per_repeat: vec![199.0, 198.5, 199.2],
            n: 3,
            tier: "tiny".into(),
            median: 199.0,
            mean: 198.9,
            iqr: Some(0.35),
            ci95: Some((198.0, 199.8)),
        }],
        skipped: vec!["sampler exec: no host /proc".into()],
        findings: findings(lane),
    }
}

/// Every lane kind (each with its findings), every cell status.
pub fn every_kind() -> RunRecord {
    RunRecord {
        schema_version: SCHEMA_VERSION.into(),
        run_id: "20261123-120000-abcd".into(),
        started_at: "2026-11-23T12:00:00Z".into(),
        finished_at: Some("2026-11-23T12:31:00Z".into()),
        status: RunStatus::Partial,
        status_reason: Some("1 cell(s) failed".into()),
        tool: ToolInfo {
            name: "runcost".into(),
            version: "0.1.0".into(),
            git_sha: Some("0123456789abcdef".into()),
            git_dirty: Some(true),
        },
        host: HostFingerprint {
            hostname: "h".into(),
            cpu_model: "Test CPU".into(),
            cores: 2,
            mem_total_bytes: 24 << 30,
            kernel: "6.1.0".into(),
            cgroup_version: "2".into(),
            engine_version: "20.10.24".into(),
            engine_api: "1.41".into(),
            compose: "v2 2.20.0".into(),
        },
        profile: ProfileRef {
            name: "gateway".into(),
            path: "profiles/gateway.yaml".into(),
            sha256: "f".repeat(64),
        },
        settings: Settings {
            lane: LaneKind::Scaling,
            repeats: 3,
            rate_hz: 10.0,
            sampler: SamplerMode::Host,
            window_s: 10.0,
            env: [("BASE_MIB".to_string(), "64".to_string())].into(),
            lane_args: [("sizes".to_string(), "10,100,1000".to_string())].into(),
            command: vec!["scaling".into(), "--repeats".into(), "3".into()],
        },
        seed: 7,
        images: [("runcost/gateway:dev".to_string(), "sha256:0123".to_string())].into(),
        lanes: LANES.into_iter().map(lane).collect(),
        host_load: LoadSummary {
            cores: 2,
            samples: 300,
            mean_load1: 0.7,
            max_load1: 1.9,
            max_cpu_psi: Some(4.5),
            overloaded: false,
        },
        suite: None,
        engine: Some(super::EngineRef {
            url: "tcp://10.77.0.2:2375".into(),
            transport: super::EngineTransport::Tcp,
            kind: super::EngineKind::Docker,
            traffic: super::Traffic::Network {
                address: "10.77.0.2".into(),
            },
            traits: None,
        }),
    }
}

fn attribution() -> super::attrib::CellAttribution {
    use super::attrib::*;
    CellAttribution {
        reads: 11,
        memory: vec![
            CategoryMem {
                category: "memfd:entities".into(),
                uss: 6.4e7,
                pss: 6.4e7,
                rss: 6.4e7,
                uss_ci: Some((6.39e7, 6.41e7)),
            },
            CategoryMem {
                category: "lib:libc.so.6".into(),
                uss: 2.0e4,
                pss: 3.1e5,
                rss: 1.6e6,
                uss_ci: None,
            },
        ],
        page_tables: 2.5e5,
        threads: vec![ThreadGroupCpu {
            process: "gateway".into(),
            group: "refresh".into(),
            cores: 0.21,
            threads: 1,
        }],
        series: vec![(4.5, [("memfd:entities".to_string(), 64_000_000u64)].into())],
        vanished_processes: 0,
        skipped_mappings: 1,
        vanished_threads: 2,
        sampler: TickerStats {
            target_hz: 1.0,
            achieved_hz: 1.0,
            samples: 11,
            thread_cpu_s: 0.02,
            wall_s: 11.0,
            ..Default::default()
        },
    }
}

fn attribution_finding() -> Finding {
    use super::attrib::*;
    Finding::Attribution(Box::new(AttributionFinding {
        categories: vec![CategoryAggregate {
            category: "memfd:entities".into(),
            params: [("entities".to_string(), "100".to_string())].into(),
            per_repeat: vec![6.4e7, 6.41e7],
            median: 6.405e7,
            ci95: Some((6.3e7, 6.5e7)),
        }],
        threads: vec![ThreadAggregate {
            process: "gateway".into(),
            group: "refresh".into(),
            params: [("entities".to_string(), "100".to_string())].into(),
            per_repeat: vec![0.2, 0.22],
            median: 0.21,
            ci95: Some((0.1, 0.3)),
        }],
        exponents: vec![CategoryExponent {
            category: "memfd:entities".into(),
            points: 15,
            outcome: ScalingOutcome::Fit(power_law()),
        }],
    }))
}
