import os from 'node:os';

/** The machine a benchmark ran on, recorded next to every result so figures can be compared fairly. */
export interface MachineInfo {
  /** Logical CPUs (os.cpus().length, as bench/training.ts reports it). */
  cpus: number;
  cpuModel: string;
  /** Total physical memory, GiB (one decimal). */
  memGiB: number;
  /** Node.js version, e.g. "v20.19.0". */
  node: string;
  platform: NodeJS.Platform;
  arch: string;
}

export function machineInfo(): MachineInfo {
  // cpus, cpuModel, memGiB and node are computed exactly as in bench/training.ts's report.
  const cpuList = os.cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
  };
}
