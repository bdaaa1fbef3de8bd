from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union
from typing import Any as _Any

DESCRIPTOR: _descriptor.FileDescriptor

class Text(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: int
    def __init__(self, value: _Optional[int] = ...) -> None: ...

class Instant(_message.Message):
    __slots__ = ("seconds", "nanos")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    nanos: int
    def __init__(self, seconds: _Optional[int] = ..., nanos: _Optional[int] = ...) -> None: ...

class Vital(_message.Message):
    __slots__ = ("name", "int_value", "float_value", "string_value", "bool_value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    int_value: int
    float_value: float
    string_value: str
    bool_value: bool
    def __init__(self, name: _Optional[str] = ..., int_value: _Optional[int] = ..., float_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class HardwareId(_message.Message):
    __slots__ = ("pcba_id", "assembly_id", "usage_id")
    PCBA_ID_FIELD_NUMBER: _ClassVar[int]
    ASSEMBLY_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_ID_FIELD_NUMBER: _ClassVar[int]
    pcba_id: Count
    assembly_id: Count
    usage_id: Count
    def __init__(self, pcba_id: _Optional[_Union[Count, _Mapping[str, _Any]]] = ..., assembly_id: _Optional[_Union[Count, _Mapping[str, _Any]]] = ..., usage_id: _Optional[_Union[Count, _Mapping[str, _Any]]] = ...) -> None: ...

class InverterAttributes(_message.Message):
    __slots__ = ("nameplate_real_power_w",)
    NAMEPLATE_REAL_POWER_W_FIELD_NUMBER: _ClassVar[int]
    nameplate_real_power_w: int
    def __init__(self, nameplate_real_power_w: _Optional[int] = ...) -> None: ...

class GeneratorAttributes(_message.Message):
    __slots__ = ("nameplate_real_power_w", "nameplate_apparent_power_va")
    NAMEPLATE_REAL_POWER_W_FIELD_NUMBER: _ClassVar[int]
    NAMEPLATE_APPARENT_POWER_VA_FIELD_NUMBER: _ClassVar[int]
    nameplate_real_power_w: int
    nameplate_apparent_power_va: int
    def __init__(self, nameplate_real_power_w: _Optional[int] = ..., nameplate_apparent_power_va: _Optional[int] = ...) -> None: ...

class MeterAttributes(_message.Message):
    __slots__ = ("meter_location",)
    METER_LOCATION_FIELD_NUMBER: _ClassVar[int]
    meter_location: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, meter_location: _Optional[_Iterable[int]] = ...) -> None: ...

class EcuAttributes(_message.Message):
    __slots__ = ("ecu_type", "hardware_id", "inverter", "meter")
    ECU_TYPE_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    INVERTER_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    ecu_type: int
    hardware_id: HardwareId
    inverter: InverterAttributes
    meter: MeterAttributes
    def __init__(self, ecu_type: _Optional[int] = ..., hardware_id: _Optional[_Union[HardwareId, _Mapping[str, _Any]]] = ..., inverter: _Optional[_Union[InverterAttributes, _Mapping[str, _Any]]] = ..., meter: _Optional[_Union[MeterAttributes, _Mapping[str, _Any]]] = ...) -> None: ...

class Attributes(_message.Message):
    __slots__ = ("ecu", "generator", "inverter", "meter")
    ECU_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    INVERTER_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    ecu: EcuAttributes
    generator: GeneratorAttributes
    inverter: InverterAttributes
    meter: MeterAttributes
    def __init__(self, ecu: _Optional[_Union[EcuAttributes, _Mapping[str, _Any]]] = ..., generator: _Optional[_Union[GeneratorAttributes, _Mapping[str, _Any]]] = ..., inverter: _Optional[_Union[InverterAttributes, _Mapping[str, _Any]]] = ..., meter: _Optional[_Union[MeterAttributes, _Mapping[str, _Any]]] = ...) -> None: ...

class Connection(_message.Message):
    __slots__ = ("ip_address", "serial_port", "serial_baud", "modbus_id")
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SERIAL_PORT_FIELD_NUMBER: _ClassVar[int]
    SERIAL_BAUD_FIELD_NUMBER: _ClassVar[int]
    MODBUS_ID_FIELD_NUMBER: _ClassVar[int]
    ip_address: Text
    serial_port: Text
    serial_baud: int
    modbus_id: int
    def __init__(self, ip_address: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., serial_port: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., serial_baud: _Optional[int] = ..., modbus_id: _Optional[int] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("din", "part_number", "serial_number", "manufacturer", "site_label", "parent_din", "firmware_version", "first_seen", "last_seen", "connection", "attributes")
    DIN_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MANUFACTURER_FIELD_NUMBER: _ClassVar[int]
    SITE_LABEL_FIELD_NUMBER: _ClassVar[int]
    PARENT_DIN_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    din: Text
    part_number: Text
    serial_number: Text
    manufacturer: Text
    site_label: Text
    parent_din: Text
    firmware_version: Text
    first_seen: Instant
    last_seen: Instant
    connection: Connection
    attributes: Attributes
    def __init__(self, din: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., part_number: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., serial_number: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., manufacturer: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., site_label: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., parent_din: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., firmware_version: _Optional[_Union[Text, _Mapping[str, _Any]]] = ..., first_seen: _Optional[_Union[Instant, _Mapping[str, _Any]]] = ..., last_seen: _Optional[_Union[Instant, _Mapping[str, _Any]]] = ..., connection: _Optional[_Union[Connection, _Mapping[str, _Any]]] = ..., attributes: _Optional[_Union[Attributes, _Mapping[str, _Any]]] = ...) -> None: ...

class ConnectedDevice(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping[str, _Any]]] = ...) -> None: ...

class DeviceWithVitals(_message.Message):
    __slots__ = ("device", "vitals", "alerts")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    VITALS_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    device: ConnectedDevice
    vitals: _containers.RepeatedCompositeFieldContainer[Vital]
    alerts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device: _Optional[_Union[ConnectedDevice, _Mapping[str, _Any]]] = ..., vitals: _Optional[_Iterable[_Union[Vital, _Mapping[str, _Any]]]] = ..., alerts: _Optional[_Iterable[str]] = ...) -> None: ...

class DevicesWithVitals(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceWithVitals]
    def __init__(self, devices: _Optional[_Iterable[_Union[DeviceWithVitals, _Mapping[str, _Any]]]] = ...) -> None: ...
