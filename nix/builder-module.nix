# Stage 2: Builderbar's own builder guest (nixosModules.builder). Boots like the stock image
# (direct kernel boot, erofs store image + writable overlay, registration from regInfo=) but
# takes both SSH keys from the host at run time over fw_cfg, so nothing secret or shared is
# in the image, formats and grows its own root disk, and says on the console when sshd listens.
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:
let
  cfg = config.builderbar.builder;
  # The runtime copies of the keys; tmpfs, root-owned, never on disk.
  keysDir = "/run/builderbar-keys";
  # serial=root on the state disk's -device (the manifest's `disks[].serial`).
  rootDisk = "/dev/disk/by-id/virtio-root";

  # The app stops the VM with QMP system_powerdown. On aarch64 (`-machine virt`, no firmware)
  # that is KEY_POWER from a gpio-keys device on the PL061 GPIO controller; on x86_64 it is
  # the ACPI power button. Either way an evdev input device with a power key, which
  # systemd-logind acts on. The drivers and the kernel options they need, per guest:
  aarch64 = pkgs.stdenv.hostPlatform.isAarch64;
  powerKeyModules =
    if aarch64 then
      [
        "gpio_pl061"
        "gpio_keys"
        "evdev"
      ]
    else
      [
        "button"
        "evdev"
      ];
  powerKeyOptions =
    if aarch64 then
      [
        "GPIO_PL061"
        "KEYBOARD_GPIO"
        "INPUT_EVDEV"
      ]
    else
      [
        "ACPI_BUTTON"
        "INPUT_EVDEV"
      ];
  inherit (config.boot.kernelPackages) kernel;
in
{
  imports = [
    "${modulesPath}/profiles/qemu-guest.nix"
    "${modulesPath}/profiles/minimal.nix"
  ];

  options.builderbar.builder = {
    readyMarker = lib.mkOption {
      type = lib.types.str;
      default = "BUILDERBAR-READY";
      description = "Line printed on the console once sshd listens (the manifest's ready_marker).";
    };
    keysPrefix = lib.mkOption {
      type = lib.types.str;
      default = "opt/builderbar";
      description = "fw_cfg name prefix under which the host passes the keys (the manifest's keys.prefix).";
    };
    minFree = lib.mkOption {
      type = lib.types.ints.unsigned;
      default = 1024 * 1024 * 1024;
      description = "Free bytes on the state disk below which Nix collects garbage during builds.";
    };
    maxFree = lib.mkOption {
      type = lib.types.ints.unsigned;
      default = 3 * 1024 * 1024 * 1024;
      description = "Free bytes at which that garbage collection stops.";
    };
  };

  config = {
    boot.loader.grub.enable = false;
    boot.initrd.availableKernelModules = [
      "erofs"
      "overlay"
    ];
    boot.kernelModules = [ "qemu_fw_cfg" ] ++ powerKeyModules;

    # The state disk arrives empty on first start: format it in the initrd, before it is
    # mounted; autoResize grows the filesystem when the app enlarges the disk.
    boot.initrd.extraUtilsCommands = ''
      copy_bin_and_libs ${pkgs.e2fsprogs}/bin/mke2fs
    '';
    boot.initrd.postDeviceCommands = lib.mkBefore ''
      for _ in $(seq 1 50); do test -e ${rootDisk} && break; sleep 0.1; done
      if ! blkid ${rootDisk} >/dev/null 2>&1; then
        echo "builderbar: formatting the new state disk"
        mke2fs -q -t ext4 -L builderbar ${rootDisk}
      fi
    '';
    fileSystems."/" = {
      device = rootDisk;
      fsType = "ext4";
      autoResize = true;
    };
    # The store: the image's read-only erofs store with builds written to the state disk.
    fileSystems."/nix/.ro-store" = {
      device = "/dev/disk/by-label/nix-store";
      fsType = "erofs";
      options = [ "ro" ];
      neededForBoot = true;
    };
    fileSystems."/nix/store".overlay = {
      lowerdir = [ "/nix/.ro-store" ];
      upperdir = "/nix/.rw-store/upper";
      workdir = "/nix/.rw-store/work";
    };
    # Register the image's store paths in the Nix database (regInfo= on the kernel command line).
    boot.postBootCommands = ''
      if [[ "$(cat /proc/cmdline)" =~ regInfo=([^ ]*) ]]; then
        ${config.nix.package.out}/bin/nix-store --load-db < "''${BASH_REMATCH[1]}"
      fi
    '';

    # Keys: the client's authorized key and this guest's host key, made per install by the app.
    systemd.services.builderbar-keys = {
      description = "Install the SSH keys the host passed over fw_cfg";
      wantedBy = [ "multi-user.target" ];
      requiredBy = [ "sshd.service" ];
      before = [ "sshd.service" ];
      path = [
        pkgs.coreutils
        pkgs.kmod
      ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
      };
      script = ''
        modprobe qemu_fw_cfg || true
        src=/sys/firmware/qemu_fw_cfg/by_name/${cfg.keysPrefix}
        for _ in $(seq 1 50); do test -e "$src/authorized_keys/raw" && break; sleep 0.1; done
        install -d -m 0755 ${keysDir}
        install -m 0444 "$src/authorized_keys/raw" ${keysDir}/authorized_keys
        install -m 0600 "$src/ssh_host_ed25519_key/raw" ${keysDir}/ssh_host_ed25519_key
      '';
    };
    services.openssh = {
      enable = true;
      hostKeys = [ ];
      authorizedKeysFiles = lib.mkForce [ "${keysDir}/authorized_keys" ];
      settings = {
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = false;
        PermitRootLogin = "no";
        AllowUsers = [ "builder" ];
      };
      extraConfig = ''
        HostKey ${keysDir}/ssh_host_ed25519_key
      '';
    };

    # Readiness: one line on the console as soon as sshd accepts connections.
    systemd.services.builderbar-ready = {
      description = "Tell the host on the console that sshd listens";
      wantedBy = [ "multi-user.target" ];
      after = [ "sshd.service" ];
      wants = [ "sshd.service" ];
      path = [
        pkgs.iproute2
        pkgs.gnugrep
        pkgs.coreutils
      ];
      serviceConfig.Type = "oneshot";
      script = ''
        for _ in $(seq 1 600); do
          if ss -Hltn 'sport = :22' | grep -q .; then
            echo ${lib.escapeShellArg cfg.readyMarker} > /dev/console
            exit 0
          fi
          sleep 0.1
        done
        exit 1
      '';
    };

    users.users.builder.isNormalUser = true;
    nix.settings = {
      trusted-users = [ "builder" ];
      min-free = cfg.minFree;
      max-free = cfg.maxFree;
    };
    nix.channel.enable = false;

    networking.hostName = lib.mkDefault "builderbar";
    # Time comes from the host's RTC; nothing to synchronise with.
    services.timesyncd.enable = false;
    # QMP system_powerdown presses the power key (see powerKeyModules): logind powers off.
    # The modules are listed so that they are there at boot whether the kernel has them built
    # in or as modules. Without one of them the key reaches nothing and every stop ends in the
    # app's QMP `quit` fallback, so building the system checks the kernel's configuration.
    services.logind.settings.Login.HandlePowerKey = "poweroff";
    system.checks = [
      (pkgs.runCommand "builderbar-power-key-drivers" { } ''
        for option in ${lib.concatStringsSep " " powerKeyOptions}; do
          if ! grep -Eq "^CONFIG_$option=(y|m)$" ${kernel.configfile}; then
            echo "builderbar: kernel ${kernel.version} lacks CONFIG_$option, so QMP system_powerdown cannot power the guest off" >&2
            exit 1
          fi
        done
        touch "$out"
      '')
    ];
    documentation.enable = false;
    system.stateVersion = lib.mkDefault "25.05";
  };
}
