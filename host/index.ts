// index.ts — wasmvisor's public API (bundled to dist/index.js).
export { Machine, cpuModule, drainMachinePool, REG_NAMES, SEG_NAMES, EXIT_NAMES } from "./machine.ts";
export { detachExit } from "./exit-reuse.ts";
export type { Exit, ExitName, MachineOptions, Segment, SegName, RegName, GprName, CrName } from "./machine.ts";
export {
  Vm, runImage, checkMode, pcPlatform, peekPicVector, buildPlatform, checkPlatformOptions, EXIT_STATUS, VIRTUAL_IPS,
  NS_PER_INSTRUCTION, MAX_IDLE_NS, MODES, IMPLEMENTED_MODES, VmConfigError, SnapshotError, SNAPSHOT_VERSION,
} from "./vm.ts";
export type {
  VmOptions, RunOptions, RunResult, RunImageOptions, RunImageResult, StopReason, Platform, PlatformHooks, PlatformOptions,
  InterruptController, TimedDevices,
} from "./vm.ts";
export type { Mode, ExitAction, ModeHost } from "./core/mode.ts";
export { VmCore } from "./core/vm.ts";
export { VmStats } from "./stats.ts";
export type { StatsJson, PortCount } from "./stats.ts";
export { parseElf, loadElfSegments, checkElfFitsRam, elfVirtToPhys, buildElf, isElf, ElfError } from "./elf.ts";
export type { ElfImage, ElfSegment, GuestMemory, ElfBuildSegment } from "./elf.ts";
export {
  loadMultiboot, enterMultiboot, findMultibootHeader, MultibootError, MULTIBOOT_HEADER_MAGIC, MULTIBOOT_BOOTLOADER_MAGIC,
  BOOT_INFO_ADDR, INITIAL_ESP,
} from "./multiboot.ts";
export type { MultibootBoot, MultibootHeader, MultibootOptions, MultibootModule } from "./multiboot.ts";
export {
  loadBzImage, enterBzImage, parseSetupHeader, isBzImage, BzImageError, BOOT_PARAMS_ADDR, BOOT_CMDLINE_ADDR,
} from "./loaders/bzimage.ts";
export type { BzImageBoot, BzImageOptions, SetupHeader } from "./loaders/bzimage.ts";
export { Bus } from "./bus.ts";
export type { IoDevice, AccessSize, BusStats } from "./bus.ts";
export * as devices from "./devices/index.ts";
export { main as cliMain, parseCliArgs, parseMemSize, UsageError } from "./cli.ts";
export * as abi from "./abi.generated.ts";
// guest memory for debuggers, devices and monitors: one guest-physical object, one side-effect-free page walker
export { GuestPhysMemory, GuestRangeError, GuestPageFault } from "./memory/guest-memory.ts";
export * as paging from "./memory/paging.ts";
export {
  trapLab, LAB, VECTOR_NAMES, ERROR_CODE_VECTORS, vectorName, parseVector, decodeErrorCode, decodePfError, decodeSelectorError,
  describeTrap, describeResult, toBytes, descriptor, gate, pageWalk, linearToPhysical,
} from "./traps.ts";
export type {
  TrapLab, TrapLabOptions, TrapResult, Trap, TrapFrame, LabState, IoEvent, PteInfo, Outcome, PageMapping, PagingOptions,
  GateSpec, Descriptor, DescriptorSpec,
} from "./traps.ts";
