//! Files shipped inside the binary: the sample config, `public_html/` and `templates/`.
//! Nothing is read from the install location at run time (S4).

use buildbot_core::daemon::toml_string;

/// One stock file of a master directory.
#[derive(Debug, Clone, Copy)]
pub struct Stock {
    /// Path relative to the base directory.
    pub path: &'static str,
    pub bytes: &'static [u8],
}

/// Static files of `public_html/`.
pub const PUBLIC_HTML: &[Stock] = &[
    Stock {
        path: "public_html/robots.txt",
        bytes: include_bytes!("../assets/public_html/robots.txt"),
    },
    Stock {
        path: "public_html/default.css",
        bytes: include_bytes!("../assets/public_html/default.css"),
    },
    Stock {
        path: "public_html/favicon.ico",
        bytes: include_bytes!("../assets/public_html/favicon.ico"),
    },
    Stock {
        path: "public_html/bg_gradient.png",
        bytes: include_bytes!("../assets/public_html/bg_gradient.png"),
    },
    Stock {
        path: "public_html/README.txt",
        bytes: include_bytes!("../assets/public_html/README.txt"),
    },
];

/// Files of `templates/`.
pub const TEMPLATES: &[Stock] = &[Stock {
    path: "templates/README.txt",
    bytes: include_bytes!("../assets/templates/README.txt"),
}];

const SAMPLE: &str = include_str!("../assets/master.cfg.sample");

/// `master.cfg.sample` naming `db_url` verbatim.
pub fn sample_config(db_url: &str) -> String {
    SAMPLE.replace("@DB_URL@", &toml_string(db_url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use buildbot_core::master::config::{Registry, parse_config};

    #[test]
    fn sample_is_a_valid_config() {
        let text = sample_config("postgresql://u:p@h/db");
        let loaded = parse_config(&text, "master.cfg.sample", &Registry::new())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(
            loaded.config.db.db_url.as_deref(),
            Some("postgresql://u:p@h/db")
        );
        assert_eq!(loaded.config.workers[0].name, "example-slave");
    }

    #[test]
    fn favicon_is_an_ico() {
        let ico = PUBLIC_HTML[2].bytes;
        assert_eq!(&ico[..4], &[0, 0, 1, 0]);
    }
}
