"""An independent Modbus TCP server (pymodbus) for foodqc's line I/O tests: a PLC memory of
1,000 holding registers, input registers and coils, on 127.0.0.1 at the port given.
Works with Debian's pymodbus 3.0 and with current releases from PyPI."""

import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import StartTcpServer

try:  # pymodbus >= 3.7
    from pymodbus.datastore import ModbusDeviceContext as Device
except ImportError:  # Debian 12's 3.0
    from pymodbus.datastore import ModbusSlaveContext as Device

logging.disable(logging.WARNING)


def block(value):
    # pymodbus keeps the historical +1 offset: protocol address 0 is the value at 1.
    return ModbusSequentialDataBlock(1, [value] * 1000)


def main() -> None:
    port = int(sys.argv[1])
    device = Device(co=block(False), di=block(False), hr=block(0), ir=block(0))
    try:
        context = ModbusServerContext(devices=device, single=True)
    except TypeError:
        context = ModbusServerContext(slaves=device, single=True)
    StartTcpServer(context=context, address=("127.0.0.1", port))


if __name__ == "__main__":
    main()
