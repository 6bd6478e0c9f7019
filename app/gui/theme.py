"""The app's look: its name, a dark Fusion palette and one style sheet for the panels."""
from __future__ import annotations

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

APP_NAME = "CenterNet Live"

STYLE_SHEET = """
QMainWindow, QDockWidget { background: #1b1d22; }
QDockWidget::title { background: #23262d; padding: 6px 10px; color: #c9ced8; font-weight: 600; }
QGroupBox { border: 1px solid #30343c; border-radius: 8px; margin-top: 14px; padding: 10px 8px 8px 8px;
            font-weight: 600; color: #dfe3ea; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #8fb8ff; }
QLabel#hint { color: #9aa3b2; font-size: 11px; }
QLabel#error { color: #ff7b72; font-size: 11px; }
QLineEdit[invalid="true"] { border: 1px solid #ff7b72; }
QFrame#metric { background: #23262d; border-radius: 8px; min-width: 92px; }
QLabel#metricValue { color: #f2f4f8; font-size: 20px; font-weight: 700; }
QLabel#metricCaption { color: #8b93a1; font-size: 10px; }
QLabel#stageValue { color: #f2f4f8; font-family: monospace; }
QLabel#infoLine { color: #aab2c0; font-size: 11px; }
QPushButton#primary { background: #2f6fdb; color: white; border: none; border-radius: 5px; padding: 5px 16px; }
QPushButton#primary:hover { background: #3b7cf0; }
QWidget#transport { background: #202329; }
QStatusBar { background: #17191d; color: #aab2c0; }
"""


def apply_theme(app: QApplication) -> None:
    """Fusion with a dark palette: the video stays the brightest thing on screen."""
    app.setStyle("Fusion")
    p = QPalette()
    base, alt, text = QColor(27, 29, 34), QColor(35, 38, 45), QColor(223, 227, 234)
    for role, color in ((QPalette.ColorRole.Window, base), (QPalette.ColorRole.WindowText, text),
                        (QPalette.ColorRole.Base, QColor(20, 22, 26)), (QPalette.ColorRole.AlternateBase, alt),
                        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, alt),
                        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.ToolTipBase, alt),
                        (QPalette.ColorRole.ToolTipText, text), (QPalette.ColorRole.Highlight, QColor(47, 111, 219)),
                        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
                        (QPalette.ColorRole.PlaceholderText, QColor(120, 126, 138))):
        p.setColor(role, color)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(100, 105, 115))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(100, 105, 115))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(100, 105, 115))
    app.setPalette(p)
