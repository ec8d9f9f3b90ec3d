//! Token estimation of the new blocks: images by their header's dimensions,
//! PDFs by their page objects, tool definitions counted, cache points free.

use palisade_core::{
    CachePoint, ChatRequest, ContentBlock, DEFAULT_IMAGE_TOKENS, DocumentFormat,
    HeuristicEstimator, ImageFormat, Message, PDF_PAGE_TOKENS, Role, TOOL_USE_SYSTEM_PROMPT_TOKENS,
    TokenEstimator, Tool, block_tokens,
};

/// The start of a PNG: signature and IHDR chunk (the CRC is not checked by
/// header readers, so zeros do).
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&width.to_be_bytes());
    png.extend_from_slice(&height.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, no interlace
    png.extend_from_slice(&[0; 4]); // CRC
    png
}

/// The start of a GIF: signature and logical screen descriptor.
fn gif_header(width: u16, height: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    gif.extend_from_slice(&[0, 0, 0]);
    gif
}

/// A minimal PDF with `pages` page objects and one page-tree object.
fn pdf(pages: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n".to_vec();
    pdf.extend_from_slice(b"2 0 obj << /Type /Pages /Count 0 >> endobj\n");
    for i in 0..pages {
        // Vary the spacing: `/Type/Page` and `/Type  /Page` are both pages.
        let spacing = ["", " ", "  \n"][i % 3];
        pdf.extend_from_slice(
            format!(
                "{} 0 obj << /Type{spacing}/Page /Parent 2 0 R >> endobj\n",
                i + 3
            )
            .as_bytes(),
        );
    }
    pdf.extend_from_slice(b"%%EOF\n");
    pdf
}

#[test]
fn png_costs_width_times_height_over_750() {
    let block = ContentBlock::image(ImageFormat::Png, &png_header(300, 250));
    assert_eq!(block_tokens(&HeuristicEstimator, &block), 300 * 250 / 750);
}

#[test]
fn gif_costs_width_times_height_over_750() {
    let block = ContentBlock::image(ImageFormat::Gif, &gif_header(150, 100));
    assert_eq!(block_tokens(&HeuristicEstimator, &block), 150 * 100 / 750);
}

#[test]
fn large_and_unreadable_images_cost_the_default() {
    let huge = ContentBlock::image(ImageFormat::Png, &png_header(4000, 3000));
    assert_eq!(
        block_tokens(&HeuristicEstimator, &huge),
        DEFAULT_IMAGE_TOKENS
    );
    let garbage = ContentBlock::image(ImageFormat::Png, b"not an image at all");
    assert_eq!(
        block_tokens(&HeuristicEstimator, &garbage),
        DEFAULT_IMAGE_TOKENS
    );
}

#[test]
fn pdf_costs_per_page_object() {
    for pages in [1, 3, 7] {
        let block = ContentBlock::document("report", DocumentFormat::Pdf, &pdf(pages));
        assert_eq!(
            block_tokens(&HeuristicEstimator, &block),
            pages as u32 * PDF_PAGE_TOKENS,
            "{pages} pages"
        );
    }
    assert_eq!(PDF_PAGE_TOKENS, 1_500);
}

#[tokio::test]
async fn tool_definitions_are_counted() {
    let est = HeuristicEstimator;
    let without = ChatRequest::user("weather in Paris?");
    let with = without.clone().with_tool(Tool::new(
        "weather",
        "The current weather in a city",
        serde_json::json!({
            "type": "object",
            "properties": { "city": { "type": "string" } },
            "required": ["city"]
        }),
    ));
    let (a, b) = (
        est.estimate_request(&without).await,
        est.estimate_request(&with).await,
    );
    assert!(b > a, "with tools {b} should exceed without {a}");
    assert!(b - a > TOOL_USE_SYSTEM_PROMPT_TOKENS, "{b} - {a}");
}

#[tokio::test]
async fn cache_points_are_free() {
    let est = HeuristicEstimator;
    let tool = Tool::new("t", "d", serde_json::json!({"type": "object"}));
    let plain = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![ContentBlock::text("a long shared prefix")],
    )])
    .with_system("system")
    .with_tool(tool);
    let mut cached = plain
        .clone()
        .with_system_cache_point(CachePoint::default())
        .with_tools_cache_point(CachePoint::default());
    cached.messages[0].content.push(ContentBlock::cache_point());
    assert_eq!(
        est.estimate_request(&cached).await,
        est.estimate_request(&plain).await
    );
    assert_eq!(block_tokens(&est, &ContentBlock::cache_point()), 0);
}
