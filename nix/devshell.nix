# Everything to work on Builderbar: Rust, Node, qemu, the Tauri CLI, the Nix linters and,
# on Linux, the WebKitGTK stack Tauri builds against.
{
  lib,
  stdenv,
  mkShell,
  cargo,
  rustc,
  clippy,
  rustfmt,
  rust-analyzer,
  nodejs,
  qemu,
  cargo-tauri,
  pkg-config,
  deadnix,
  nixfmt-rfc-style,
  openssl,
  webkitgtk_4_1,
  librsvg,
  libayatana-appindicator,
  glib-networking,
}:
mkShell {
  packages = [
    cargo
    rustc
    clippy
    rustfmt
    rust-analyzer
    nodejs
    qemu
    cargo-tauri
    pkg-config
    deadnix
    nixfmt-rfc-style
  ];
  buildInputs = lib.optionals stdenv.hostPlatform.isLinux [
    openssl
    webkitgtk_4_1
    librsvg
    libayatana-appindicator
    glib-networking
  ];
  shellHook = ''
    echo "builderbar dev shell: cargo test --workspace, npm ci && npm run app, tests/nix/check.sh"
  '';
}
