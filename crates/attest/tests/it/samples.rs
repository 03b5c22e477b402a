use vcity_attest::{pem_chain_to_der, CpuEvidence, Evidence, GpuEvidence};

pub fn data(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|error| panic!("{full}: {error}"))
}

pub fn intel(quote: &str, collateral: &str) -> CpuEvidence {
    CpuEvidence::IntelDcap {
        quote: data(quote),
        collateral_json: data(collateral),
    }
}

pub fn amd() -> CpuEvidence {
    let hex_text = String::from_utf8(data("amd/report_milan.hex")).expect("utf-8");
    CpuEvidence::AmdSnp {
        report: hex::decode(hex_text.trim()).expect("hex"),
        vcek_der: data("amd/vcek_milan.der"),
    }
}

pub fn hopper() -> GpuEvidence {
    let report_hex = String::from_utf8(data("nvidia/hopperAttestationReport.txt")).expect("utf-8");
    let chain = String::from_utf8(data("nvidia/hopperCertChain.txt")).expect("utf-8");
    GpuEvidence {
        report: hex::decode(report_hex.trim()).expect("hex"),
        cert_chain_der: pem_chain_to_der(&chain).expect("chain"),
    }
}

pub fn evidence(cpu: CpuEvidence, gpus: Vec<GpuEvidence>) -> Evidence {
    Evidence { cpu, gpus }
}

/// A copy of `bytes` with one bit flipped at `offset`.
pub fn flipped(bytes: &[u8], offset: usize) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    copy[offset] ^= 0x01;
    copy
}

/// 2025-07-01T00:00:00Z: inside the recorded Intel collateral's window (issued 2025-06-19,
/// next update 2025-07-19), the AMD VCEK's (2023-2030) and NVIDIA's chain's (2022-9999).
pub const JULY_2025_S: u64 = 1_751_328_000;

pub const TDX_MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
pub const SGX_MRENCLAVE: &str = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb";
pub const SNP_MEASUREMENT: &str = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";

/// A policy that registers exactly the samples' measurements and accepts their TCB statuses.
pub fn sample_policy() -> vcity_attest::Policy {
    vcity_attest::Policy {
        intel_tcb_statuses: vec![
            "UpToDate".into(),
            "ConfigurationAndSWHardeningNeeded".into(),
        ],
        tdx_mrtd: vec![TDX_MRTD.into()],
        sgx_mrenclave: vec![SGX_MRENCLAVE.into()],
        snp_measurements: vec![SNP_MEASUREMENT.into()],
        gpu_driver_versions: vec![super::nvidia::DRIVER.into()],
        gpu_vbios_versions: vec![super::nvidia::VBIOS.into()],
        ..Default::default()
    }
}
