/**
 * What a run's exits would cost on a real hypervisor: per-exit costs from published measurements
 * (docs/cost-model.md cites each one), applied to the deterministic exit counts. This is a model,
 * not a measurement: it is reported apart from the host time trapdoor measured.
 */
import type { ExitStats } from "../stats.js";
import { EXIT_CAUSES, type ExitCause } from "./exit-causes.js";

/** A published figure the model uses. */
export interface CostSource {
  id: string;
  /** Title, authors or venue, where, year. */
  citation: string;
  /** The machine the figure was measured on. */
  cpu: string;
  /** What was measured, as the source states it. */
  figure: string;
}

export const COST_SOURCES: readonly CostSource[] = [
  {
    id: "splitx",
    citation:
      'A. Landau, M. Ben-Yehuda, A. Gordon, "SplitX: Split Guest/Hypervisor Execution on Multi-Core", USENIX WIOV 2011, §2 and Table 1',
    cpu: "Intel Xeon X5570 (Nehalem), 2.93 GHz; KVM in Linux 2.6.34, EPT and VPID on, 1 vCPU",
    figure: "direct cost of an exit (the world switch guest → KVM → guest): about 2,000 cycles",
  },
  {
    id: "kvm-run-ioctl",
    citation:
      'M. Roth, reply in the LKML thread on "KVM: SVM: use vmsave/vmload for saving/restoring additional host state", December 2020 (https://lkml.iu.edu/hypermail/linux/kernel/2012.2/00527.html)',
    cpu: "AMD host with SVM (the model is not named in the message)",
    figure:
      "one KVM_RUN ioctl round trip from userspace: 2,528 cycles, of which ~576 from ioctl entry to VMRUN and ~576 from the exit back to the ioctl's return",
  },
];

/** One exit's cost in cycles per cause, on a stated clock. */
export interface CostProfile {
  id: "kvm-in-kernel" | "kvm-userspace";
  description: string;
  /** Clock the cycle counts are converted at (GHz): the CPU of the main source. */
  ghz: number;
  cycles: Record<ExitCause, number>;
  sources: string[];
}

/** The hardware round trip of one exit (SplitX). */
const ROUND_TRIP = 2000;
/** Leaving KVM_RUN for userspace and entering it again (the two ~576-cycle legs of the LKML figure). */
const USERSPACE_LEGS = 2 * 576;

export const COST_PROFILES: readonly CostProfile[] = [
  {
    id: "kvm-in-kernel",
    description:
      "KVM with every device in the kernel (in-kernel irqchip and PIT, ioeventfd): each exit is one hardware round trip; the handler's own work is not included",
    ghz: 2.93,
    cycles: {
      "pio-in": ROUND_TRIP,
      "pio-out": ROUND_TRIP,
      "mmio-read": ROUND_TRIP,
      "mmio-write": ROUND_TRIP,
      notify: ROUND_TRIP,
      interrupt: ROUND_TRIP,
      hlt: ROUND_TRIP,
    },
    sources: ["splitx"],
  },
  {
    id: "kvm-userspace",
    description:
      "KVM with the device model in userspace (QEMU): port and MMIO exits also leave and re-enter KVM_RUN; notifies stay in the kernel (ioeventfd) and interrupts and HLT in the in-kernel irqchip, as QEMU's defaults. QEMU's own dispatch is not included, so this is a lower bound",
    ghz: 2.93,
    cycles: {
      "pio-in": ROUND_TRIP + USERSPACE_LEGS,
      "pio-out": ROUND_TRIP + USERSPACE_LEGS,
      "mmio-read": ROUND_TRIP + USERSPACE_LEGS,
      "mmio-write": ROUND_TRIP + USERSPACE_LEGS,
      notify: ROUND_TRIP,
      interrupt: ROUND_TRIP,
      hlt: ROUND_TRIP,
    },
    sources: ["splitx", "kvm-run-ioctl"],
  },
];

/** The modeled cost of a run's exits under one profile. */
export interface ModeledCost {
  profile: CostProfile["id"];
  description: string;
  /** Modeled µs per cause and in total. */
  byCauseUs: Record<ExitCause, number>;
  totalUs: number;
  sources: string[];
}

/** Apply every profile to the exit counts. */
export function modelExitCosts(exits: Pick<ExitStats, "byCause">): ModeledCost[] {
  return COST_PROFILES.map((p) => {
    const byCauseUs = {} as Record<ExitCause, number>;
    let total = 0;
    for (const c of EXIT_CAUSES) {
      const us = (exits.byCause[c] * p.cycles[c]) / p.ghz / 1000;
      byCauseUs[c] = round(us);
      total += us;
    }
    return {
      profile: p.id,
      description: p.description,
      byCauseUs,
      totalUs: round(total),
      sources: p.sources,
    };
  });
}

function round(us: number): number {
  return Math.round(us * 1000) / 1000;
}
