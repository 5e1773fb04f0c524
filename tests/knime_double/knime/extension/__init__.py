"""Test double of ``knime.extension`` (``import knime.extension as knext``).

Our own implementation of the parts of KNIME's pure-Python node API the project uses, for
machines where the real ``knime-extension`` conda package is not installable. ``tests/conftest.py``
puts ``tests/knime_double`` on ``sys.path`` only when the real package cannot be imported.
Behaviour follows /work/shared/notes/knime-api.md and is checked against the real package by
``tests/test_knime_double.py`` (see ``tests/knime_harness.py`` for the commands).
"""

from knime.api import schema as _ks
from knime.api import table as _kt
from knime.extension import nodes as _kn
from knime.extension import parameter as _kp

IntParameter = _kp.IntParameter
DoubleParameter = _kp.DoubleParameter
BoolParameter = _kp.BoolParameter
StringParameter = _kp.StringParameter
MultilineStringParameter = _kp.MultilineStringParameter
parameter_group = _kp.parameter_group
ColumnParameter = _kp.ColumnParameter
EnumParameter = _kp.EnumParameter
EnumParameterOptions = _kp.EnumParameterOptions
Version = _kp.Version
Effect = _kp.Effect
And = _kp.And
Or = _kp.Or
OneOf = _kp.OneOf
Contains = _kp.Contains
DialogContextCondition = _kp.DialogContextCondition
Condition = _kp.Condition
LayoutDirection = _kp.LayoutDirection

PortType = _kn.PortType
Port = _kn.Port
PortObject = _kn.PortObject
ConfigurationContext = _kn.ConfigurationContext
ExecutionContext = _kn.ExecutionContext
DialogCreationContext = _kn.DialogCreationContext
PythonNode = _kn.PythonNode
category = _kn.category
NodeType = _kn.NodeType
node = _kn.node
port_type = _kn.port_type
InvalidParametersError = _kn.InvalidParametersError
WorkflowExecutionError = _kn.WorkflowExecutionError
input_table = _kn.input_table
input_port = _kn.input_port
output_table = _kn.output_table
output_port = _kn.output_port

Table = _kt.Table
BatchOutputTable = _kt.BatchOutputTable

KnimeType = _ks.KnimeType
PrimitiveTypeId = _ks.PrimitiveTypeId
PrimitiveType = _ks.PrimitiveType
ListType = _ks.ListType
StructType = _ks.StructType
LogicalType = _ks.LogicalType
int32 = _ks.int32
int64 = _ks.int64
double = _ks.double
bool_ = _ks.bool_
string = _ks.string
blob = _ks.blob
list_ = _ks.list_
struct = _ks.struct
logical = _ks.logical
null = _ks.null
PortObjectSpec = _ks.PortObjectSpec
Column = _ks.Column
Schema = _ks.Schema
