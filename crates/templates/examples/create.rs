//! Fills a rootfs with a template and prints the config keys and the time
//! taken: `cargo run --release -p enclos-templates --example create -- busybox
//! NAME ROOTFS [-- TEMPLATE-OPTIONS]`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use enclos_templates::{Template, TemplateRequest};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ours, template_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let [template, name, rootfs] = ours else {
        eprintln!("Usage: create TEMPLATE NAME ROOTFS [-- TEMPLATE-OPTIONS]");
        return ExitCode::from(2);
    };
    let run = || -> Result<(), enclos_templates::Error> {
        let template = Template::from_name(template)?;
        let mut req = TemplateRequest::new(name, Path::new(rootfs));
        req.args = template_args;
        let start = Instant::now();
        let out = template.create(&req, &mut |step| {
            eprintln!("{:>10.3?} {step}", start.elapsed())
        })?;
        let elapsed = start.elapsed();
        for (key, value) in &out.config {
            println!("{key} = {value}");
        }
        for note in &out.notes {
            eprintln!("{note}");
        }
        eprintln!("created in {elapsed:?}");
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", enclos_report::Chain(&e));
            ExitCode::FAILURE
        }
    }
}
