//! What verifying each kind of evidence costs, on the recorded samples (docs/benchmarks.md, P10):
//! the figure that decides whether the ledger may verify evidence itself.
//!
//! `cargo bench -p vcity-attest --bench verify [iterations]`

use std::time::Instant;

use vcity_attest::{
    pem_chain_to_der, verify, CpuEvidence, Evidence, Expected, GpuEvidence, Policy,
};

fn data(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|error| panic!("{full}: {error}"))
}

fn hex_file(path: &str) -> Vec<u8> {
    hex::decode(String::from_utf8(data(path)).expect("utf-8").trim()).expect("hex")
}

fn main() {
    let iterations: u32 = std::env::args()
        .skip(1)
        .find(|argument| !argument.starts_with('-'))
        .and_then(|argument| argument.parse().ok())
        .unwrap_or(200);
    let policy = Policy {
        intel_tcb_statuses: vec!["UpToDate".into(), "ConfigurationAndSWHardeningNeeded".into()],
        tdx_mrtd: vec!["91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7".into()],
        sgx_mrenclave: vec!["33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb".into()],
        snp_measurements: vec!["7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f".into()],
        gpu_driver_versions: vec!["550.90.07".into()],
        gpu_vbios_versions: vec!["96.00.9f.00.01".into()],
        ..Policy::default()
    };
    let tdx = CpuEvidence::IntelDcap {
        quote: data("intel/tdx_quote"),
        collateral_json: data("intel/tdx_quote_collateral.json"),
    };
    let sgx = CpuEvidence::IntelDcap {
        quote: data("intel/sgx_quote"),
        collateral_json: data("intel/sgx_quote_collateral.json"),
    };
    let snp = CpuEvidence::AmdSnp {
        report: hex_file("amd/report_milan.hex"),
        vcek_der: data("amd/vcek_milan.der"),
    };
    let gpu = GpuEvidence {
        report: hex_file("nvidia/hopperAttestationReport.txt"),
        cert_chain_der: pem_chain_to_der(
            &String::from_utf8(data("nvidia/hopperCertChain.txt")).expect("utf-8"),
        )
        .expect("chain"),
    };
    let now_s = 1_751_328_000;
    println!("| evidence | bytes (borsh) | µs per verification | verifications/s |");
    println!("|---|---|---|---|");
    for (name, evidence) in [
        (
            "Intel TDX quote + collateral",
            Evidence {
                cpu: tdx.clone(),
                gpus: vec![],
            },
        ),
        (
            "Intel SGX quote + collateral",
            Evidence {
                cpu: sgx,
                gpus: vec![],
            },
        ),
        (
            "AMD SEV-SNP report + VCEK",
            Evidence {
                cpu: snp,
                gpus: vec![],
            },
        ),
        (
            "TDX + 1 Hopper GPU",
            Evidence {
                cpu: tdx.clone(),
                gpus: vec![gpu.clone()],
            },
        ),
        (
            "TDX + 8 Hopper GPUs",
            Evidence {
                cpu: tdx,
                gpus: vec![gpu; 8],
            },
        ),
    ] {
        let bytes = borsh::to_vec(&evidence).expect("encode").len();
        verify(&evidence, &policy, now_s, Expected::Unbound).expect("the sample verifies");
        let started = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(verify(&evidence, &policy, now_s, Expected::Unbound).ok());
        }
        let each_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
        println!("| {name} | {bytes} | {each_us:.0} | {:.0} |", 1e6 / each_us);
    }
}
