//! Export and import stream: the peak memory stays bounded whatever the
//! container's size. A container with `ENCLOS_RSS_TEST_MIB` MiB (default
//! 128) of incompressible data is exported through a pipe straight into
//! an import; the process's peak RSS must stay under 64 MiB.

use std::fs;
use std::io::{BufWriter, Write};

use enclos_snapshot::{export, import, ExportOptions, ExportSource, ImportOptions};

fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn export_and_import_stream_in_bounded_memory() {
    let mib: u64 = std::env::var("ENCLOS_RSS_TEST_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let tmp = tempfile::tempdir().unwrap();
    let c1 = tmp.path().join("c1");
    fs::create_dir_all(c1.join("rootfs")).unwrap();
    fs::write(c1.join("config"), "lxc.uts.name = c1\n").unwrap();
    let mut f = BufWriter::new(fs::File::create(c1.join("rootfs/data")).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).unwrap();
    }
    drop(f);
    drop(block);
    let src = ExportSource {
        name: "c1".into(),
        dir: c1.clone(),
        config: c1.join("config"),
        rootfs: c1.join("rootfs"),
        snapshots: vec![],
    };
    let (reader, writer) = std::io::pipe().unwrap();
    let exporter = std::thread::spawn(move || {
        let opts = ExportOptions {
            threads: std::env::var("ENCLOS_RSS_TEST_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2),
            ..ExportOptions::default()
        };
        export(&src, writer, &opts, &mut |_| {}).unwrap()
    });
    let started = std::time::Instant::now();
    let imported = import(
        reader,
        &tmp.path().join("c2"),
        &ImportOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let summary = exporter.join().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(imported.payload_bytes, summary.payload_bytes);
    assert_eq!(
        fs::metadata(tmp.path().join("c2/rootfs/data"))
            .unwrap()
            .len(),
        mib << 20
    );
    let peak = peak_rss_kib();
    eprintln!(
        "export | import of {mib} MiB: {:.0} MB/s, peak RSS {} MiB",
        (mib << 20) as f64 / secs / 1e6,
        peak / 1024
    );
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}
