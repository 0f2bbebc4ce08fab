# The app: the Tauri shell (src-tauri) with the Svelte front end (ui/, package-lock.json)
# and the `builderbar` CLI, built with nixpkgs' cargo-tauri hook. The npm dependencies come
# from package-lock.json's own integrity hashes (importNpmLock), the crates from Cargo.lock,
# so there is no extra hash to keep up to date.
{
  lib,
  stdenv,
  rustPlatform,
  cargo-tauri,
  nodejs,
  importNpmLock,
  pkg-config,
  wrapGAppsHook3,
  openssl,
  webkitgtk_4_1,
  glib-networking,
  libayatana-appindicator,
}:
let
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions (
      map (p: lib.fileset.maybeMissing (../. + "/${p}")) [
        "Cargo.toml"
        "Cargo.lock"
        ".cargo"
        "crates"
        "src-tauri"
        "ui"
        "icons"
        "package.json"
        "package-lock.json"
        "index.html"
        "vite.config.ts"
        "tsconfig.json"
        "svelte.config.js"
      ]
    );
  };
in
rustPlatform.buildRustPackage {
  pname = "builderbar";
  version = (lib.importTOML ../Cargo.toml).workspace.package.version;
  inherit src;

  cargoLock.lockFile = ../Cargo.lock;
  npmDeps = importNpmLock { npmRoot = src; };

  nativeBuildInputs = [
    cargo-tauri.hook
    nodejs
    importNpmLock.npmConfigHook
    pkg-config
  ]
  ++ lib.optionals stdenv.hostPlatform.isLinux [ wrapGAppsHook3 ];

  buildInputs = lib.optionals stdenv.hostPlatform.isLinux [
    openssl
    webkitgtk_4_1
    glib-networking
    libayatana-appindicator
  ];

  # The hook runs `cargo tauri build` in src-tauri (tauri.conf.json: "mainBinaryName":
  # "builderbar-app"); the CLI is the workspace member beside it.
  buildAndTestSubdir = "src-tauri";
  postBuild = ''
    cargo build --release --offline -p builderbar-cli
  '';
  postInstall = ''
    for cli in target/${stdenv.hostPlatform.rust.rustcTarget}/release/builderbar target/release/builderbar; do
      if [ -x "$cli" ]; then install -Dm755 "$cli" "$out/bin/builderbar"; break; fi
    done
  ''
  + lib.optionalString stdenv.hostPlatform.isDarwin ''
    # `nix run` starts the app inside the bundle the hook installed.
    ln -s "$(echo "$out"/Applications/*.app)/Contents/MacOS/builderbar-app" "$out/bin/builderbar-app"
  '';

  # Tests need qemu, a guest image and a real Nix; CI runs them (.ci/run), not the package build.
  doCheck = false;

  meta = {
    description = "Menu-bar app that gives a Mac with Nix a Linux builder";
    mainProgram = "builderbar-app";
    license = lib.licenses.mit;
    platforms = lib.platforms.darwin ++ lib.platforms.linux;
  };
}
