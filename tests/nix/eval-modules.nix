# Evaluates darwinModules.default and nixosModules.builder with nixpkgs' lib alone: the options
# of nix-darwin and NixOS they write to are stubbed, so this checks our modules' own options,
# types, assertions and generated text, not NixOS itself. Needs a nixpkgs `lib` directory:
#   nix-instantiate --eval --strict --arg lib 'import /path/to/nixpkgs/lib' tests/nix/eval-modules.nix
# (tests/nix/check.sh runs it when BUILDERBAR_NIXPKGS_LIB names such a directory.)
{ lib }:
let
  fakePkg = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    out = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = "builderbar-app";
  };
  stockKey = lib.removeSuffix "\n" (builtins.readFile ./fixtures/stock_host_ed25519_key.pub);
  # The flake as the darwin module sees it: packages for Apple silicon only (the flake's shape
  # once its pin has moved past nixpkgs 26.05).
  self.packages.aarch64-darwin = {
    default = fakePkg "builderbar";
    builder-image-stock = fakePkg "builderbar-image-stock" // {
      manifest.host_key = {
        kind = "fixed";
        public = stockKey;
      };
    };
  };

  # The nix-darwin options our module writes or reads, typed like nix-darwin's.
  darwinStub = {
    options = with lib; {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      system.primaryUser = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      nix.enable = mkOption {
        type = types.bool;
        default = true;
      };
      nix.distributedBuilds = mkOption {
        type = types.bool;
        default = false;
      };
      nix.settings = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
      nix.buildMachines = mkOption {
        type = types.listOf (types.attrsOf types.anything);
        default = [ ];
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule { options.text = mkOption { type = types.lines; }; });
        default = { };
      };
      launchd.user.agents = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
    };
  };
  evalDarwinOn =
    system: modules:
    (lib.evalModules {
      modules = [
        darwinStub
        (import ../../nix/darwin-module.nix self)
        {
          _module.args.pkgs.stdenv.hostPlatform = {
            inherit system;
            isAarch64 = lib.hasPrefix "aarch64" system;
          };
        }
      ]
      ++ modules;
    }).config;
  evalDarwin =
    settings:
    evalDarwinOn "aarch64-darwin" [
      { system.primaryUser = "ada"; }
      {
        services.builderbar = {
          enable = true;
        }
        // settings;
      }
    ];
  failing = cfg: map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
  failsWith =
    cfg: words: lib.any (m: lib.hasInfix words (lib.replaceStrings [ "\n" ] [ " " ] m)) (failing cfg);

  darwin = evalDarwin { };
  machine = lib.head darwin.nix.buildMachines;
  ported = evalDarwin { port = 31999; };
  settingsJson = builtins.fromJSON ported.environment.etc."builderbar/settings.json".text;

  # What the Rust side shows nix-darwin users for the same defaults
  # (crates/core/src/nix/darwin_snippet.rs writes this fixture): the module must agree.
  snippet = evalDarwinOn "aarch64-darwin" [ ./fixtures/darwin-snippet.nix ];

  nixosStub = {
    freeformType = lib.types.lazyAttrsOf lib.types.raw;
    options.nix = lib.mkOption { type = lib.types.lazyAttrsOf lib.types.raw; };
    options.boot = lib.mkOption { type = lib.types.lazyAttrsOf lib.types.raw; };
  };
  builderFor =
    system:
    (lib.evalModules {
      specialArgs.modulesPath = toString ./stub-modules;
      modules = [
        nixosStub
        ../../nix/builder-module.nix
        {
          _module.args.pkgs =
            lib.genAttrs [
              "e2fsprogs"
              "coreutils"
              "kmod"
              "iproute2"
              "gnugrep"
            ] fakePkg
            // {
              stdenv.hostPlatform.isAarch64 = lib.hasPrefix "aarch64" system;
              runCommand =
                name: _env: script:
                fakePkg name // { inherit script; };
            };
          nix.package = fakePkg "nix";
          boot.kernelPackages.kernel = fakePkg "linux-config" // {
            configfile = "/nix/store/00000000000000000000000000000000-linux-config";
            version = "6.12.30";
          };
          builderbar.builder.readyMarker = "READY-42";
        }
      ];
    }).config;
  builder = builderFor "aarch64-linux";
  builderX86 = builderFor "x86_64-linux";
  powerCheck = b: (lib.head b.system.checks).script;

  check = cond: msg: lib.assertMsg cond "eval-modules: ${msg}";
in
# darwinModules.default: the wiring, and that it is what the app's snippet says.
assert check (
  darwin.nix.distributedBuilds && darwin.nix.settings.builders-use-substitutes
) "wiring";
assert check (
  machine.hostName == "builderbar-builder"
  && machine.systems == [ "aarch64-linux" ]
  && machine.maxJobs == 4
) "build machine";
assert check (darwin.nix.buildMachines == snippet.nix.buildMachines)
  "the module's build machine differs from the Rust snippet's (tests/nix/fixtures/darwin-snippet.nix)";
assert check (
  darwin.environment.etc."ssh/ssh_config.d/builderbar.conf".text
  == snippet.environment.etc."ssh/ssh_config.d/builderbar.conf".text
) "the module's ssh_config block differs from the Rust snippet's";
assert check (
  darwin.nix.settings.builders-use-substitutes == snippet.nix.settings.builders-use-substitutes
) "builders-use-substitutes";
assert check (lib.hasInfix "Port 31999\n"
  ported.environment.etc."ssh/ssh_config.d/builderbar.conf".text
) "ssh_config port";
assert check (
  settingsJson.settings.port == 31999 && settingsJson.image == "stock" && settingsJson.login_agent
) "settings.json";
assert check (settingsJson.nix_wiring.ssh_key == machine.sshKey) "settings.json names the key";
# The stock image's host key is known: no publicHostKey to copy, and it is the base64 of the
# stock key line, byte for byte what the Rust side writes.
assert check (failing darwin == [ ]) "the defaults pass their assertions";
assert check (
  machine.publicHostKey == (lib.head snippet.nix.buildMachines).publicHostKey
) "stock host key";
# Any other image: publicHostKey is required, and then accepted.
assert check (failsWith (evalDarwin {
  image = "builderbar";
}) "publicHostKey is not set") "a per-install host key must be given";
assert check (
  failing (evalDarwin {
    image = "builderbar";
    nixWiring.publicHostKey = "c3NoLWVkMjU1MTk=";
  }) == [ ]
) "a given host key is accepted";
# nix.enable = false: said, not silently ignored; without the wiring it is fine.
assert check (failsWith (evalDarwinOn "aarch64-darwin" [
  { system.primaryUser = "ada"; }
  { nix.enable = false; }
  { services.builderbar.enable = true; }
]) "needs nix.enable") "nix.enable = false is an assertion";
assert check (
  failing (
    evalDarwinOn "aarch64-darwin" [
      { system.primaryUser = "ada"; }
      { nix.enable = false; }
      {
        services.builderbar = {
          enable = true;
          nixWiring.enable = false;
        };
      }
    ]
  ) == [ ]
) "without nixWiring, nix.enable = false is fine";
# The login agent needs system.primaryUser.
assert check (failsWith (evalDarwinOn "aarch64-darwin" [
  { services.builderbar.enable = true; }
]) "system.primaryUser") "startAtLogin without system.primaryUser is an assertion";
assert check (
  failing (
    evalDarwinOn "aarch64-darwin" [
      {
        services.builderbar = {
          enable = true;
          startAtLogin = false;
        };
      }
    ]
  ) == [ ]
) "without the login agent no primary user is needed";
assert check (
  darwin.launchd.user.agents.builderbar.serviceConfig.ProgramArguments == [
    "/nix/store/00000000000000000000000000000000-builderbar/bin/builderbar-app"
  ]
) "login agent";
# An Intel Mac against a flake without x86_64-darwin packages: said, with the reason.
assert check (failsWith (evalDarwinOn "x86_64-darwin" [
  { system.primaryUser = "ada"; }
  {
    services.builderbar = {
      enable = true;
      package = fakePkg "builderbar";
      nixWiring.publicHostKey = "c3NoLWVkMjU1MTk=";
    };
  }
]) "Intel Macs") "no packages for x86_64-darwin";

# nixosModules.builder.
assert check
  (lib.hasInfix "echo READY-42 > /dev/console" builder.systemd.services.builderbar-ready.script)
  "ready marker";
assert check (lib.hasInfix "by_name/opt/builderbar" builder.systemd.services.builderbar-keys.script)
  "fw_cfg prefix";
assert check (
  builder.fileSystems."/".device == "/dev/disk/by-id/virtio-root"
) "root disk by serial";
assert check (builder.nix.settings.trusted-users == [ "builder" ]) "trusted builder";
# QMP system_powerdown: a GPIO power key on aarch64 `virt`, the ACPI button on x86_64.
assert check (
  builder.services.logind.settings.Login.HandlePowerKey == "poweroff"
) "logind powers off";
assert check (lib.all (m: lib.elem m builder.boot.kernelModules) [
  "gpio_pl061"
  "gpio_keys"
  "evdev"
]) "aarch64 power key drivers";
assert check (
  lib.elem "button" builderX86.boot.kernelModules
  && !lib.elem "gpio_keys" builderX86.boot.kernelModules
) "x86_64 power button driver";
assert check (
  lib.hasInfix "GPIO_PL061 KEYBOARD_GPIO INPUT_EVDEV" (powerCheck builder)
  && lib.hasInfix "-linux-config" (powerCheck builder)
) "aarch64 kernel config check";
assert check (lib.hasInfix "ACPI_BUTTON INPUT_EVDEV" (
  powerCheck builderX86
)) "x86_64 kernel config check";
"ok"
