import type { AccessWidth, IoDevice } from "../bus/device.js";
import { unconnectedIrq, type IrqLine } from "./irq.js";

/*
 * A minimal Intel 8042 keyboard controller (PS/2 "KBC") with a keyboard and an empty mouse port:
 * enough for Linux's i8042 probe, atkbd's probe and a reset through the controller. Register and
 * command semantics follow the IBM PC AT Technical Reference (keyboard controller: status register,
 * commands 20h-FFh, output port) and the IBM PS/2 Hardware Interface Technical Reference (auxiliary
 * device commands A7h-A9h, D2h-D4h); reply bytes follow the keyboard's command set in the same book.
 *
 * Ports (not contiguous, hence two IoDevices of one controller):
 *  - 0x60 data (`kbc.data`): read the output buffer; write a parameter for a pending controller
 *    command, or else a byte for the keyboard.
 *  - 0x64 status/command (`kbc.command`): read the status register; write a controller command.
 *
 * Modelling choices:
 *  - The controller is infinitely fast: IBF (status bit 1) is always 0, and replies are queued at
 *    once. Controller replies go first; the keyboard's bytes follow while the keyboard interface is
 *    enabled (command byte bit 4 = 0). Writing a byte to the keyboard re-enables its interface (as
 *    QEMU does and Linux's atkbd expects).
 *  - IRQ1 is driven while the output buffer holds a keyboard byte and command byte bit 0 is set; IRQ12
 *    (`auxIrq`) while it holds an auxiliary byte and bit 1 is set. Reading 0x60 drops the line before
 *    the next byte raises it again, giving the edge an edge-triggered PIC input needs.
 *  - The mouse port exists but nothing is plugged in: A9h (interface test) answers 00h and D3h loops
 *    bytes back as auxiliary data, so Linux registers the port, but a byte sent with D4h gets the
 *    reply a controller gives when the device does not answer: FEh with status bits 5 (auxiliary
 *    data) and 6 (time-out) set, which Linux's psmouse treats as an aborted command (probe fails
 *    quickly: "no mouse"). Wire `auxIrq` to IRQ12; unwired, Linux's AUX IRQ test just times out after
 *    250 ms of guest time and it gives up the port.
 *  - The keyboard uses scan code set 2; with translation on (command byte bit 6) the controller
 *    translates its replies, so the identify reply is FAh ABh 41h (83h untranslated) and the scan
 *    code set reply 41h (02h untranslated), as on real hardware and QEMU. `queueScancode` bytes are
 *    delivered as given (pass set 1 codes while translation is on).
 *  - Power-on state is what a BIOS leaves: command byte 65h (keyboard interrupt, system flag, mouse
 *    port disabled, translation), output port CFh (reset line inactive, A20 enabled), self test passed.
 *  - Output port bit 0 is the CPU reset line (active low) and bit 1 the A20 gate: D1h with bit 0 = 0
 *    or a pulse command F0h-FEh with bit 0 = 0 (FEh is the usual one) calls `onReset`; a change of bit
 *    1 calls `onA20`. The stored output port keeps bit 0 = 1 (the pulse is over).
 *  - Accesses are byte-wide; a wider read returns the byte with the upper bytes all ones, the upper
 *    bytes of a wider write are ignored (as in the UART).
 */

/** Data port. */
export const I8042_DATA_PORT = 0x60;
/** Status (read) / command (write) port. */
export const I8042_COMMAND_PORT = 0x64;

// Status register bits (IBM AT Technical Reference, 8042 status register).
/** Output buffer full: a byte waits at 0x60. */
export const STATUS_OBF = 0x01;
/** Input buffer full (always 0 here: the controller consumes writes at once). */
export const STATUS_IBF = 0x02;
/** System flag: mirrors command byte bit 2 (set by the BIOS after a successful self test). */
export const STATUS_SYS = 0x04;
/** Command/data: 1 if the last write went to 0x64. */
export const STATUS_CMD = 0x08;
/** Keyboard not inhibited (keylock switch off): always 1. */
export const STATUS_UNLOCKED = 0x10;
/** The output buffer holds a byte from the auxiliary (mouse) port. */
export const STATUS_AUXDATA = 0x20;
/** Time-out: the device did not answer. */
export const STATUS_TIMEOUT = 0x40;
/** Parity error (never set). */
export const STATUS_PARITY = 0x80;

// Command byte (controller RAM byte 0) bits.
/** Interrupt (IRQ1) on keyboard output buffer full. */
export const CTR_KBDINT = 0x01;
/** Interrupt (IRQ12) on auxiliary output buffer full. */
export const CTR_AUXINT = 0x02;
/** System flag (mirrored in status bit 2). */
export const CTR_SYS = 0x04;
/** Ignore the keylock switch. */
export const CTR_IGNKEYLOCK = 0x08;
/** Keyboard interface disabled (clock held low). */
export const CTR_KBDDIS = 0x10;
/** Auxiliary interface disabled. */
export const CTR_AUXDIS = 0x20;
/** Translate scan code set 2 to set 1. */
export const CTR_XLATE = 0x40;

// Output port bits.
/** Output port bit 0: CPU reset line, active low. */
export const OUTPORT_RESET = 0x01;
/** Output port bit 1: A20 gate. */
export const OUTPORT_A20 = 0x02;
/** Output port bit 4: keyboard output buffer full (IRQ1). */
const OUTPORT_OBF = 0x10;
/** Output port bit 5: auxiliary output buffer full (IRQ12). */
const OUTPORT_AUX_OBF = 0x20;

/** Command byte a BIOS leaves: KBDINT | SYS | AUXDIS | XLATE. */
export const I8042_DEFAULT_CTR = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;
/** Output port at power-on: reset inactive, A20 on, clock/data lines high (QEMU's 0xCF). */
export const I8042_DEFAULT_OUTPORT = 0xcf;

/** Keyboard replies. */
export const KBD_ACK = 0xfa;
export const KBD_BAT_OK = 0xaa;
export const KBD_RESEND = 0xfe;
export const KBD_ECHO = 0xee;

/** Depth of the keyboard's own buffer (bytes beyond it are dropped by `queueScancode`). */
export const KBD_BUFFER_SIZE = 16;
/** Bound on queued controller replies (a guest cannot grow host memory without limit). */
const CONTROLLER_QUEUE_LIMIT = 16;

/** No controller command is waiting for its parameter byte. */
const NONE = -1;

/** Snapshot of the controller: plain numbers and arrays only. */
export interface I8042State {
  /** Controller RAM (32 bytes); byte 0 is the command byte. */
  ram: number[];
  outport: number;
  /** Output buffer contents (also what a read of 0x60 returns when OBF is clear). */
  outputBuffer: number;
  /** 1 while the output buffer holds an unread byte. */
  obf: number;
  /** STATUS_AUXDATA / STATUS_TIMEOUT of the byte in the output buffer. */
  obFlags: number;
  /** 1 if the last write was to 0x64 (status bit 3). */
  lastWriteCommand: number;
  /** Controller command waiting for a byte at 0x60, or -1. */
  pendingCommand: number;
  /** Controller replies not yet in the output buffer: byte | (status flags << 8). */
  controllerQueue: number[];
  /** Bytes the keyboard has sent, not yet in the output buffer. */
  kbdQueue: number[];
  /** Keyboard command waiting for its parameter (EDh, F3h, F0h), or -1. */
  kbdPendingCommand: number;
  /** 1 if the keyboard is scanning (F4h enable / F5h disable). */
  kbdScanning: number;
  /** Keyboard LED state (EDh parameter, bits 0-2). */
  kbdLeds: number;
  /** Keyboard scan code set (1-3; only reported). */
  kbdScanSet: number;
}

/** Options of the controller. */
export interface I8042Options {
  /** IRQ1 (keyboard). Default: not connected. */
  irq?: IrqLine;
  /** IRQ12 (auxiliary port). Default: not connected. */
  auxIrq?: IrqLine;
  /** The guest pulsed the CPU reset line (command FEh, or D1h with bit 0 clear). */
  onReset?: () => void;
  /** The guest changed the A20 gate through the output port (command D1h). */
  onA20?: (enabled: boolean) => void;
}

function initialState(): I8042State {
  const ram = new Array<number>(32).fill(0);
  ram[0] = I8042_DEFAULT_CTR;
  return {
    ram,
    outport: I8042_DEFAULT_OUTPORT,
    outputBuffer: 0,
    obf: 0,
    obFlags: 0,
    lastWriteCommand: 0,
    pendingCommand: NONE,
    controllerQueue: [],
    kbdQueue: [],
    kbdPendingCommand: NONE,
    kbdScanning: 1,
    kbdLeds: 0,
    kbdScanSet: 2,
  };
}

/** The 8042 keyboard controller; map `data` at 0x60 and `command` at 0x64 (length 1 each). */
export class I8042 {
  /** The data port device (0x60). */
  readonly data: IoDevice;
  /** The status/command port device (0x64). */
  readonly command: IoDevice;
  private state: I8042State = initialState();
  private readonly irq: IrqLine;
  private readonly auxIrq: IrqLine;
  private readonly resetCallback: () => void;
  private readonly a20Callback: (enabled: boolean) => void;
  private irqLevel = false;
  private auxIrqLevel = false;

  constructor(options: I8042Options = {}) {
    this.irq = options.irq ?? unconnectedIrq;
    this.auxIrq = options.auxIrq ?? unconnectedIrq;
    this.resetCallback = options.onReset ?? (() => {});
    this.a20Callback = options.onA20 ?? (() => {});
    this.data = {
      name: "i8042-data",
      read: (_offset, width) => widen(this.readData(), width),
      write: (_offset, _width, value) => this.writeData(value & 0xff),
    };
    this.command = {
      name: "i8042-cmd",
      read: (_offset, width) => widen(this.readStatus(), width),
      write: (_offset, _width, value) => this.writeCommand(value & 0xff),
    };
  }

  /** The A20 gate as the output port sets it. */
  get a20(): boolean {
    return (this.state.outport & OUTPORT_A20) !== 0;
  }

  /** The command byte (controller RAM byte 0). */
  get commandByte(): number {
    return this.state.ram[0]!;
  }

  /**
   * Host -> guest: the keyboard sends `byte` (delivered as given, see the file comment). Returns
   * false if the keyboard is not scanning or its 16-byte buffer is full (the byte is lost).
   */
  queueScancode(byte: number): boolean {
    const s = this.state;
    if (!s.kbdScanning || s.kbdQueue.length >= KBD_BUFFER_SIZE) return false;
    s.kbdQueue.push(byte & 0xff);
    this.fill();
    this.updateIrq();
    return true;
  }

  /** Power-on reset of controller and keyboard (callbacks are not called). */
  reset(): void {
    this.state = initialState();
    this.updateIrq(true);
  }

  /** A deep copy of the state. */
  saveState(): I8042State {
    const s = this.state;
    return { ...s, ram: [...s.ram], controllerQueue: [...s.controllerQueue], kbdQueue: [...s.kbdQueue] };
  }

  /** Restore a state produced by saveState (copied and masked) and re-drive the IRQ lines. */
  loadState(saved: I8042State): void {
    const ram = new Array<number>(32).fill(0);
    for (let i = 0; i < 32; i++) ram[i] = (saved.ram[i] ?? 0) & 0xff;
    const pending = (n: number): number => (Number.isInteger(n) && n >= 0 && n <= 0xff ? n : NONE);
    this.state = {
      ram,
      outport: (saved.outport & 0xff) | OUTPORT_RESET,
      outputBuffer: saved.outputBuffer & 0xff,
      obf: saved.obf ? 1 : 0,
      obFlags: saved.obFlags & (STATUS_AUXDATA | STATUS_TIMEOUT),
      lastWriteCommand: saved.lastWriteCommand ? 1 : 0,
      pendingCommand: pending(saved.pendingCommand),
      controllerQueue: saved.controllerQueue.slice(0, CONTROLLER_QUEUE_LIMIT).map((e) => e & 0x60ff),
      kbdQueue: saved.kbdQueue.slice(0, KBD_BUFFER_SIZE).map((b) => b & 0xff),
      kbdPendingCommand: pending(saved.kbdPendingCommand),
      kbdScanning: saved.kbdScanning ? 1 : 0,
      kbdLeds: saved.kbdLeds & 7,
      kbdScanSet: saved.kbdScanSet >= 1 && saved.kbdScanSet <= 3 ? saved.kbdScanSet : 2,
    };
    this.updateIrq(true);
  }

  // ---- ports ----

  private readStatus(): number {
    const s = this.state;
    return (
      (s.obf ? STATUS_OBF | s.obFlags : 0) |
      (s.ram[0]! & CTR_SYS ? STATUS_SYS : 0) |
      (s.lastWriteCommand ? STATUS_CMD : 0) |
      STATUS_UNLOCKED
    );
  }

  private readData(): number {
    const s = this.state;
    const value = s.outputBuffer;
    if (s.obf) {
      s.obf = 0;
      s.obFlags = 0;
      this.updateIrq(); // drop the line first: the next byte must make a new edge
      this.fill();
      this.updateIrq();
    }
    return value;
  }

  private writeData(value: number): void {
    const s = this.state;
    s.lastWriteCommand = 0;
    const cmd = s.pendingCommand;
    s.pendingCommand = NONE;
    if (cmd !== NONE) {
      this.commandParameter(cmd, value);
    } else {
      // A byte for the keyboard re-enables the keyboard interface.
      s.ram[0] = s.ram[0]! & ~CTR_KBDDIS;
      this.keyboardWrite(value);
    }
    this.fill();
    this.updateIrq();
  }

  private writeCommand(cmd: number): void {
    const s = this.state;
    s.lastWriteCommand = 1;
    s.pendingCommand = NONE; // a new command abandons a pending one
    if (cmd >= 0x20 && cmd <= 0x3f) {
      this.reply(s.ram[cmd & 0x1f]!); // read controller RAM; 20h = command byte
    } else if (cmd >= 0x60 && cmd <= 0x7f) {
      s.pendingCommand = cmd; // write controller RAM; 60h = command byte
    } else if (cmd >= 0xf0) {
      // Pulse output port bits 0-3 low where the command's bits 0-3 are 0; bit 0 is CPU reset.
      if (!(cmd & OUTPORT_RESET)) this.resetCallback();
    } else {
      switch (cmd) {
        case 0xa7: // disable auxiliary interface
          s.ram[0] = s.ram[0]! | CTR_AUXDIS;
          break;
        case 0xa8: // enable auxiliary interface
          s.ram[0] = s.ram[0]! & ~CTR_AUXDIS;
          break;
        case 0xa9: // auxiliary interface test: 00h = no error
          this.reply(0x00);
          break;
        case 0xaa: // controller self test: 55h = passed; sets the system flag
          s.ram[0] = s.ram[0]! | CTR_SYS;
          this.reply(0x55);
          break;
        case 0xab: // keyboard interface test: 00h = no error
          this.reply(0x00);
          break;
        case 0xad: // disable keyboard interface
          s.ram[0] = s.ram[0]! | CTR_KBDDIS;
          break;
        case 0xae: // enable keyboard interface
          s.ram[0] = s.ram[0]! & ~CTR_KBDDIS;
          break;
        case 0xd0: // read output port (bits 4/5 show the output buffer state)
          this.reply(
            (s.outport & ~(OUTPORT_OBF | OUTPORT_AUX_OBF)) |
              (s.obf && !(s.obFlags & STATUS_AUXDATA) ? OUTPORT_OBF : 0) |
              (s.obf && s.obFlags & STATUS_AUXDATA ? OUTPORT_AUX_OBF : 0),
          );
          break;
        case 0xd1: // write output port
        case 0xd2: // write keyboard output buffer
        case 0xd3: // write auxiliary output buffer
        case 0xd4: // write to auxiliary device
          s.pendingCommand = cmd;
          break;
        default:
          break; // unknown or unmodelled commands are ignored, as by a real 8042
      }
    }
    this.fill();
    this.updateIrq();
  }

  /** The byte written to 0x60 after a controller command that takes one. */
  private commandParameter(cmd: number, value: number): void {
    const s = this.state;
    if (cmd >= 0x60 && cmd <= 0x7f) {
      s.ram[cmd & 0x1f] = cmd === 0x60 ? value & 0x7f : value; // command byte bit 7 is reserved (0)
      return;
    }
    switch (cmd) {
      case 0xd1: {
        const old = s.outport;
        s.outport = value | OUTPORT_RESET;
        if ((old ^ value) & OUTPORT_A20) this.a20Callback((value & OUTPORT_A20) !== 0);
        if (!(value & OUTPORT_RESET)) this.resetCallback();
        return;
      }
      case 0xd2:
        this.reply(value);
        return;
      case 0xd3:
        this.reply(value, STATUS_AUXDATA);
        return;
      case 0xd4:
        // No auxiliary device: the controller times out waiting for its answer.
        this.reply(KBD_RESEND, STATUS_AUXDATA | STATUS_TIMEOUT);
        return;
    }
  }

  // ---- keyboard ----

  /** A byte sent to the keyboard: a command, or the parameter of the previous one. */
  private keyboardWrite(value: number): void {
    const s = this.state;
    const xlate = (s.ram[0]! & CTR_XLATE) !== 0;
    const pending = s.kbdPendingCommand;
    s.kbdPendingCommand = NONE;
    if (pending !== NONE) {
      switch (pending) {
        case 0xed: // set LEDs
          s.kbdLeds = value & 7;
          this.kbdSend(KBD_ACK);
          return;
        case 0xf3: // set typematic rate/delay
          this.kbdSend(KBD_ACK);
          return;
        case 0xf0: // get/set scan code set
          if (value === 0) {
            this.kbdSend(KBD_ACK, xlate ? [0x43, 0x41, 0x3f][s.kbdScanSet - 1]! : s.kbdScanSet);
          } else if (value >= 1 && value <= 3) {
            s.kbdScanSet = value;
            this.kbdSend(KBD_ACK);
          } else {
            this.kbdSend(KBD_RESEND);
          }
          return;
      }
    }
    switch (value) {
      case 0xff: // reset and basic assurance test
        s.kbdQueue = [];
        s.kbdLeds = 0;
        s.kbdScanSet = 2;
        s.kbdScanning = 1;
        this.kbdSend(KBD_ACK, KBD_BAT_OK);
        return;
      case 0xf2: // identify: MF2 keyboard
        this.kbdSend(KBD_ACK, 0xab, xlate ? 0x41 : 0x83);
        return;
      case 0xf4: // enable scanning
        s.kbdScanning = 1;
        this.kbdSend(KBD_ACK);
        return;
      case 0xf5: // disable scanning and restore defaults
        s.kbdScanning = 0;
        s.kbdScanSet = 2;
        this.kbdSend(KBD_ACK);
        return;
      case 0xf6: // restore defaults
        s.kbdScanSet = 2;
        this.kbdSend(KBD_ACK);
        return;
      case 0xee: // echo
        this.kbdSend(KBD_ECHO);
        return;
      case 0xed:
      case 0xf3:
      case 0xf0:
        s.kbdPendingCommand = value;
        this.kbdSend(KBD_ACK);
        return;
      default: // every other command is acknowledged and has no effect
        this.kbdSend(KBD_ACK);
        return;
    }
  }

  /** The keyboard answers: replies replace what it had buffered (a command flushes the buffer). */
  private kbdSend(...bytes: number[]): void {
    const s = this.state;
    s.kbdQueue = bytes.map((b) => b & 0xff);
  }

  // ---- output buffer and interrupts ----

  /** Queue a controller reply (delivered before keyboard bytes). */
  private reply(byte: number, flags = 0): void {
    const q = this.state.controllerQueue;
    if (q.length < CONTROLLER_QUEUE_LIMIT) q.push((byte & 0xff) | (flags << 8));
  }

  /** Load the output buffer from the queues if it is empty. */
  private fill(): void {
    const s = this.state;
    if (s.obf) return;
    if (s.controllerQueue.length > 0) {
      const e = s.controllerQueue.shift()!;
      s.outputBuffer = e & 0xff;
      s.obFlags = (e >> 8) & (STATUS_AUXDATA | STATUS_TIMEOUT);
    } else if (s.kbdQueue.length > 0 && !(s.ram[0]! & CTR_KBDDIS)) {
      s.outputBuffer = s.kbdQueue.shift()!;
      s.obFlags = 0;
    } else {
      return;
    }
    s.obf = 1;
  }

  /** Drive IRQ1/IRQ12 from the output buffer state and the command byte (only changes, unless forced). */
  private updateIrq(force = false): void {
    const s = this.state;
    const aux = (s.obFlags & STATUS_AUXDATA) !== 0;
    const kbd = s.obf === 1 && !aux && (s.ram[0]! & CTR_KBDINT) !== 0;
    const mouse = s.obf === 1 && aux && (s.ram[0]! & CTR_AUXINT) !== 0;
    if (kbd !== this.irqLevel || force) {
      this.irqLevel = kbd;
      this.irq.set(kbd);
    }
    if (mouse !== this.auxIrqLevel || force) {
      this.auxIrqLevel = mouse;
      this.auxIrq.set(mouse);
    }
  }
}

/** A byte-wide register read at a wider width: upper bytes all ones (nothing drives them). */
function widen(byte: number, width: AccessWidth): number {
  if (width === 1) return byte;
  return width === 2 ? 0xff00 | byte : (0xffffff00 | byte) >>> 0;
}
