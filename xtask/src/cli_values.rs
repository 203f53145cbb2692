//! The command line's choices for enums that run.json records. Those types
//! live in `results/`, which stays free of clap (a leaf of plain serde
//! types), so their `clap::ValueEnum` is implemented here; a test holds the
//! command-line names equal to the names in run.json.

use crate::results::boxes::{AccelChoice, BackendKind, Transport};
use crate::results::SamplerMode;
use clap::builder::PossibleValue;

/// `impl clap::ValueEnum` for a record enum: each variant with its
/// command-line name and help line.
macro_rules! value_enum {
    ($ty:ident { $($variant:ident => $name:literal: $help:literal,)+ }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($ty::$variant),+]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($ty::$variant => PossibleValue::new($name).help($help),)+
                })
            }
        }
    };
}

value_enum!(SamplerMode {
    Host => "host": "The host's /proc (needs root or CAP_SYS_PTRACE, and a local engine)",
    Exec => "exec": "One long-lived `docker exec` shell loop inside the container",
    Auto => "auto": "host when the container's processes are visible in this host's /proc, exec otherwise",
});

value_enum!(BackendKind {
    Qemu => "qemu": "qemu-system-x86_64 with a Debian kernel and the runcost initramfs",
    Container => "container": "A container of the base image through the Docker engine",
    Command => "command": "Any runtime through its command line (needs --profile)",
});

value_enum!(AccelChoice {
    Auto => "auto": "KVM when a boot probe shows it boots the guest, else TCG",
    Kvm => "kvm": "KVM or a clear error",
    Tcg => "tcg": "Software emulation, no probe",
});

value_enum!(Transport {
    Virtio => "virtio": "`-machine microvm` with virtio-console over virtio-mmio (the agent loads four modules): measured 20× faster for 1 MiB of output than the UART, and the smaller machine boots faster",
    Serial => "serial": "`-machine pc` with the agent on the second 16550 UART: no guest modules at all",
});

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
    use serde::Serialize;

    /// Every variant's command-line name is its name in run.json.
    fn names_match<T: ValueEnum + Serialize>() {
        for v in T::value_variants() {
            let cli = v.to_possible_value().unwrap().get_name().to_string();
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json.as_str(), Some(cli.as_str()));
        }
    }

    #[test]
    fn command_line_names_are_the_record_names() {
        names_match::<SamplerMode>();
        names_match::<BackendKind>();
        names_match::<AccelChoice>();
        names_match::<Transport>();
        assert_eq!(SamplerMode::value_variants().len(), 3);
        assert_eq!(AccelChoice::value_variants().len(), 3);
    }
}
