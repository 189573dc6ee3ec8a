//! The report as Markdown (`report.md`): the page's headings, paragraphs, lists and tables;
//! its charts are left out, their figures being in the tables.

use super::page::{Block, Page, Section, SIMULATED_NOTICE};

/// The page as Markdown.
pub(super) fn page(page: &Page) -> String {
    let mut md = format!("# {}\n\n", page.title);
    if page.simulated {
        md.push_str(&format!("> **SIMULATED**: {SIMULATED_NOTICE}\n\n"));
    }
    for section in &page.sections {
        write_section(&mut md, section, 2);
    }
    md.push_str(&format!("---\n\n{}\n", page.footer));
    md
}

fn write_section(md: &mut String, section: &Section, level: usize) {
    md.push_str(&format!("{} {}\n\n", "#".repeat(level), section.heading));
    for block in &section.blocks {
        match block {
            Block::Paragraph(text) => md.push_str(&format!("{text}\n\n")),
            Block::List(items) => {
                for item in items {
                    md.push_str(&format!("- {item}\n"));
                }
                md.push('\n');
            }
            Block::Table { caption, table } => {
                md.push_str(&format!("{caption}:\n\n{}\n", table.markdown()));
            }
            Block::Charts(_) => {}
        }
    }
    for child in &section.sections {
        write_section(md, child, level + 1);
    }
}
