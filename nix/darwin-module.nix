# darwinModules.default: Builderbar for people whose /etc belongs to nix-darwin. Installs the
# app, starts it at login, declares its settings, and writes the Nix wiring (build machine,
# ssh_config block) that the app would otherwise apply itself through its one authorization
# prompt. The client key is the one file it cannot write: Builderbar's setup installs it at
# /etc/nix/builderbar_ed25519 (see "nix-darwin" in docs/flake.md).
self:
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.builderbar;
  inherit (pkgs.stdenv.hostPlatform) system;
  guestSystem = if pkgs.stdenv.hostPlatform.isAarch64 then "aarch64-linux" else "x86_64-linux";

  # The same names the app's own setup uses (crates/core: ssh::HOST_ALIAS,
  # nix::ssh_config::SSH_CONFIG_FILE_NAME, setup::WiringTarget::installed_key), so doctor
  # finds the wiring where it looks. tests/nix/eval-modules.nix compares this module's output
  # with the snippet the Rust side renders for the same settings.
  alias = "builderbar-builder";
  sshConfigFile = "ssh/ssh_config.d/builderbar.conf";
  sshKey = "/etc/nix/builderbar_ed25519";

  base64 = import ./base64.nix { inherit lib; };
  hasPackages = self.packages ? ${system};
  # The stock image's host key is nixpkgs' public one: pinned here, no copying needed.
  stockHostKey = base64 self.packages.${system}.builder-image-stock.manifest.host_key.public;
in
{
  options.services.builderbar = {
    enable = lib.mkEnableOption "Builderbar, a Linux builder in the menu bar";
    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${system}.default;
      defaultText = lib.literalExpression "builderbar.packages.\${system}.default";
      description = "The Builderbar app.";
    };
    startAtLogin = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Start the menu-bar app when `system.primaryUser` logs in (a launchd user agent in that
        user's ~/Library/LaunchAgents). The builder belongs to that one user: its VM, keys and
        port are theirs.
      '';
    };
    cores = lib.mkOption {
      type = lib.types.ints.positive;
      default = 4;
      description = "Virtual CPUs of the builder; also its maxJobs.";
    };
    memoryMiB = lib.mkOption {
      type = lib.types.ints.positive;
      default = 3072;
      description = "Memory of the builder in MiB.";
    };
    diskGiB = lib.mkOption {
      type = lib.types.ints.positive;
      default = 40;
      description = "Size of the builder's state disk in GiB.";
    };
    port = lib.mkOption {
      type = lib.types.port;
      default = 31022;
      description = "Loopback port the builder's SSH is reached on (127.0.0.1 only).";
    };
    onDemand = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Start the builder when a build connects, instead of keeping it running.";
    };
    idleMinutes = lib.mkOption {
      type = lib.types.ints.positive;
      default = 180;
      description = "With onDemand, stop the builder after this many minutes without builds.";
    };
    image = lib.mkOption {
      type = lib.types.either (lib.types.enum [
        "stock"
        "builderbar"
      ]) lib.types.path;
      default = "stock";
      description = ''
        The builder image: "stock" (nixpkgs' darwin.linux-builder, substituted; its host key is
        public), "builderbar" (the hardened image with a host key made per install, built on
        the stock one), or an image directory.
      '';
    };
    nixWiring = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = ''
          Declare the builder in nix.buildMachines and its ssh_config block. Needs nix-darwin
          to manage Nix (`nix.enable`); without it, set this to false and let Builderbar's
          setup wire Nix itself.
        '';
      };
      publicHostKey = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = if cfg.image == "stock" && hasPackages then stockHostKey else null;
        defaultText = lib.literalMD "the stock image's fixed key when `image` is `\"stock\"`, else `null`";
        example = "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFB...";
        description = ''
          The builder's public host key, base64-encoded as in a machines line. Known in advance
          only for the stock image. Any other image gets a host key made per install: copy it
          from Builderbar's setup window (the nix-darwin snippet) once the app has made it.
        '';
      };
    };
  };

  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        assertions = [
          {
            assertion = hasPackages;
            message = ''
              Builderbar's flake has no packages for ${system}. Intel Macs (x86_64-darwin) are
              supported only by Builderbar releases pinned to nixpkgs 26.05, the last nixpkgs
              release for them; see docs/flake.md ("Intel Macs").
            '';
          }
          {
            assertion = cfg.startAtLogin -> config.system.primaryUser != null;
            message = ''
              services.builderbar.startAtLogin installs a login agent for system.primaryUser,
              which is not set. Set system.primaryUser to the user who runs Builderbar, or set
              services.builderbar.startAtLogin = false and start the app yourself.
            '';
          }
        ];
        environment.systemPackages = [ cfg.package ];
        # Read by the app as settings managed by the system (shown, not editable). `settings`
        # uses the field names of the app's settings.json (crates/core/src/settings.rs).
        environment.etc."builderbar/settings.json".text = builtins.toJSON {
          managed_by = "nix-darwin";
          settings = {
            inherit (cfg) cores port;
            memory_mib = cfg.memoryMiB;
            disk_gib = cfg.diskGiB;
            on_demand = cfg.onDemand;
            idle_minutes = cfg.idleMinutes;
          };
          image = toString cfg.image;
          login_agent = cfg.startAtLogin;
          nix_wiring =
            if cfg.nixWiring.enable then
              {
                host_alias = alias;
                ssh_config = "/etc/${sshConfigFile}";
                ssh_key = sshKey;
                public_host_key = cfg.nixWiring.publicHostKey;
              }
            else
              null;
        };
        launchd.user.agents.builderbar = lib.mkIf cfg.startAtLogin {
          serviceConfig = {
            ProgramArguments = [ (lib.getExe cfg.package) ];
            RunAtLoad = true;
            ProcessType = "Interactive";
            LimitLoadToSessionType = "Aqua";
          };
        };
      }
      (lib.mkIf cfg.nixWiring.enable {
        assertions = [
          {
            # Like nix-darwin's own nix.linux-builder: with nix.enable = false (Determinate
            # Nix, or Nix installed by hand) nix.buildMachines would be silently ignored.
            assertion = config.nix.enable;
            message = ''
              services.builderbar.nixWiring needs nix.enable: with nix.enable = false nix-darwin
              does not write nix.conf, so the builder would never reach Nix. Set
              services.builderbar.nixWiring.enable = false and run Builderbar's setup, which
              wires Nix itself (under Determinate Nix it edits nix.custom.conf).
            '';
          }
          {
            assertion = cfg.nixWiring.publicHostKey != null;
            message = ''
              services.builderbar.nixWiring.publicHostKey is not set, and the image "${toString cfg.image}"
              has a host key made per install. Start Builderbar once, copy publicHostKey from the
              nix-darwin snippet in its setup window, set it here, and switch again.
            '';
          }
        ];
        nix.distributedBuilds = true;
        nix.settings.builders-use-substitutes = true;
        nix.buildMachines = [
          {
            hostName = alias;
            protocol = "ssh-ng";
            sshUser = "builder";
            inherit sshKey;
            inherit (cfg.nixWiring) publicHostKey;
            systems = [ guestSystem ];
            maxJobs = cfg.cores;
            speedFactor = 1;
            supportedFeatures = [ "big-parallel" ];
            mandatoryFeatures = [ ];
          }
        ];
        # nix-daemon runs ssh as root; the port and the pinned key's alias live here. Nix 2.8
        # takes no port in a builder URI.
        environment.etc.${sshConfigFile}.text = ''
          Host ${alias}
            HostName 127.0.0.1
            Port ${toString cfg.port}
            User builder
            IdentityFile ${sshKey}
            IdentitiesOnly yes
            HostKeyAlias ${alias}
            StrictHostKeyChecking yes
            ServerAliveInterval 15
        '';
      })
    ]
  );
}
